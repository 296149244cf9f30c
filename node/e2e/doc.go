// Package e2e holds the multi-process tests of Cairn: they build the cairn
// binary once, start clusters of separate OS processes on loopback (three
// meta voters, six storage nodes, one gateway) and drive them through
// aws-sdk-go-v2 with its default settings, killing and restarting processes
// to check the failure model of DESIGN.md.
package e2e
