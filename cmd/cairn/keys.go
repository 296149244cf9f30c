package main

import (
	"fmt"

	"github.com/cairn-io/cairn/node/gateway/sse"
)

// encryptionKeys are the parsed --master-key and --kms-keys values.
type encryptionKeys struct {
	master []byte
	kms    []sse.KMSKey
}

func parseEncryptionKeys(master, kms string) (encryptionKeys, error) {
	var k encryptionKeys
	if master != "" {
		key, err := sse.ParseKey(master)
		if err != nil {
			return k, fmt.Errorf("--master-key: %w", err)
		}
		k.master = key
	}
	list, err := sse.ParseKMSKeys(kms)
	if err != nil {
		return k, fmt.Errorf("--kms-keys: %w", err)
	}
	k.kms = list
	return k, nil
}
