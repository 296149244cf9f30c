package devcluster

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// keysFile holds the server-side encryption keys of a local cluster,
// readable by the owner only.
const keysFile = "sse-keys.json"

// DevKMSKeyID names the one key-ring key of a local cluster.
const DevKMSKeyID = "cairn-dev"

// Keys are the server-side encryption keys of a local cluster: the master
// key of SSE-S3 and one key-ring key for SSE-KMS, each base64 of 32 bytes.
type Keys struct {
	MasterKey string `json:"master_key"`
	KMSKeyID  string `json:"kms_key_id"`
	KMSKey    string `json:"kms_key"`
}

// LoadOrCreateKeys reads the keys stored in dir, or generates them once and
// stores them there (mode 0600). Losing them makes encrypted objects
// unreadable, so they are never regenerated over an existing file.
func LoadOrCreateKeys(dir string) (Keys, error) {
	path := filepath.Join(dir, keysFile)
	b, err := os.ReadFile(path)
	if err == nil {
		var k Keys
		if err := json.Unmarshal(b, &k); err != nil || k.MasterKey == "" || k.KMSKeyID == "" || k.KMSKey == "" {
			return Keys{}, fmt.Errorf("devcluster: %s is malformed", keysFile)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return Keys{}, fmt.Errorf("devcluster: read keys: %w", err)
	}
	k := Keys{MasterKey: newKey(), KMSKeyID: DevKMSKeyID, KMSKey: newKey()}
	b, err = json.MarshalIndent(k, "", "  ")
	if err != nil {
		return Keys{}, fmt.Errorf("devcluster: encode keys: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return Keys{}, fmt.Errorf("devcluster: store keys: %w", err)
	}
	return k, nil
}

// Env is the environment that hands the keys to a gateway process; keys
// never travel as arguments, which every user can read.
func (k Keys) Env() []string {
	return []string{"CAIRN_MASTER_KEY=" + k.MasterKey, "CAIRN_KMS_KEYS=" + k.KMSKeyID + "=" + k.KMSKey}
}

func newKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.StdEncoding.EncodeToString(b)
}

// KMSEnv is the environment that gives a gateway the SSE-KMS key ring
// alone, for clusters whose master key is set separately.
func (k Keys) KMSEnv() []string {
	return []string{"CAIRN_KMS_KEYS=" + k.KMSKeyID + "=" + k.KMSKey}
}
