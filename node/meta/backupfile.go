package meta

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/proto/metapb"
)

// Backup file format, version 1:
//
//	magic "CAIRNBAK" | uint32 BE version | uint32 BE header length
//	header:  metapb.BackupHeader (cluster ID, index, term, node, time)
//	payload: the metadata state machine's snapshot stream (own format and CRC)
//	trailer: uint64 BE payload length | SHA-256 of every byte before it
//
// The checksum covers the header, so a file whose cluster ID or index was
// edited is refused like a damaged one.
const (
	backupMagic   = "CAIRNBAK"
	backupVersion = uint32(1)
	// maxBackupHeader bounds the header so that a damaged length cannot
	// make the reader allocate without limit.
	maxBackupHeader = 1 << 16
	backupTrailer   = 8 + sha256.Size
)

// Backup file errors.
var (
	// ErrBadBackup marks a file that is not a backup, is damaged or
	// truncated.
	ErrBadBackup = errors.New("meta: not a valid backup file")
	// ErrForeignBackup marks a backup of another cluster.
	ErrForeignBackup = errors.New("meta: backup of another cluster")
)

// WriteBackup writes a backup file to w: header h, then payload (the
// snapshot stream) to its end, then the trailer. It returns the payload's
// length.
func WriteBackup(w io.Writer, h *metapb.BackupHeader, payload io.Reader) (int64, error) {
	hb, err := proto.Marshal(h)
	if err != nil {
		return 0, fmt.Errorf("meta: backup: encode header: %w", err)
	}
	sum := sha256.New()
	mw := io.MultiWriter(w, sum)
	pre := binary.BigEndian.AppendUint32([]byte(backupMagic), backupVersion)
	pre = binary.BigEndian.AppendUint32(pre, uint32(len(hb)))
	if _, err := mw.Write(append(pre, hb...)); err != nil {
		return 0, fmt.Errorf("meta: backup: write header: %w", err)
	}
	n, err := io.Copy(mw, payload)
	if err != nil {
		return n, fmt.Errorf("meta: backup: write payload: %w", err)
	}
	if _, err := mw.Write(binary.BigEndian.AppendUint64(nil, uint64(n))); err != nil {
		return n, fmt.Errorf("meta: backup: write trailer: %w", err)
	}
	if _, err := w.Write(sum.Sum(nil)); err != nil {
		return n, fmt.Errorf("meta: backup: write trailer: %w", err)
	}
	return n, nil
}

// BackupInfo describes a verified backup file.
type BackupInfo struct {
	Header *metapb.BackupHeader
	// PayloadOffset and PayloadLen locate the snapshot stream in the file.
	PayloadOffset, PayloadLen int64
}

// VerifyBackup reads a whole backup file of size bytes from r and checks
// its structure and checksum. The payload's own format is checked when it
// is restored.
func VerifyBackup(r io.Reader, size int64) (BackupInfo, error) {
	bad := func(format string, args ...any) (BackupInfo, error) {
		return BackupInfo{}, fmt.Errorf("%w: %s", ErrBadBackup, fmt.Sprintf(format, args...))
	}
	sum := sha256.New()
	raw := bufio.NewReaderSize(r, 1<<16)
	// br hashes what it reads; the checksum itself is read from raw.
	br := io.TeeReader(raw, sum)
	pre := make([]byte, len(backupMagic)+8)
	if _, err := io.ReadFull(br, pre); err != nil {
		return bad("header: %v", err)
	}
	if string(pre[:len(backupMagic)]) != backupMagic {
		return bad("no backup magic (is this a Cairn metadata backup?)")
	}
	if v := binary.BigEndian.Uint32(pre[len(backupMagic):]); v != backupVersion {
		return bad("format version %d, this build reads %d", v, backupVersion)
	}
	hl := int64(binary.BigEndian.Uint32(pre[len(backupMagic)+4:]))
	if hl > maxBackupHeader {
		return bad("header of %d bytes", hl)
	}
	hb := make([]byte, hl)
	if _, err := io.ReadFull(br, hb); err != nil {
		return bad("header: %v", err)
	}
	var h metapb.BackupHeader
	if err := proto.Unmarshal(hb, &h); err != nil {
		return bad("header: %v", err)
	}
	off := int64(len(pre)) + hl
	plen := size - off - backupTrailer
	if plen < 0 {
		return bad("file of %d bytes is truncated", size)
	}
	if _, err := io.CopyN(io.Discard, br, plen); err != nil {
		return bad("payload: %v", err)
	}
	lenBytes := make([]byte, 8)
	if _, err := io.ReadFull(br, lenBytes); err != nil {
		return bad("trailer: %v", err)
	}
	want := sum.Sum(nil)
	got := make([]byte, sha256.Size)
	if _, err := io.ReadFull(raw, got); err != nil {
		return bad("trailer: %v", err)
	}
	if int64(binary.BigEndian.Uint64(lenBytes)) != plen {
		return bad("payload is %d bytes, trailer says %d", plen, binary.BigEndian.Uint64(lenBytes))
	}
	if string(got) != string(want) {
		return bad("checksum mismatch (damaged file)")
	}
	if _, err := raw.ReadByte(); err != io.EOF {
		return bad("trailing data")
	}
	return BackupInfo{Header: &h, PayloadOffset: off, PayloadLen: plen}, nil
}
