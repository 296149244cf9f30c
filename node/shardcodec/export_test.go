package shardcodec

// PoolClass exposes class to the tests.
var PoolClass = class
