package api

import (
	"encoding/base64"
	"encoding/hex"
)

// encodings are the ways key material could be written into a log.
func encodings(b []byte) []string {
	return []string{
		base64.StdEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
		hex.EncodeToString(b),
	}
}
