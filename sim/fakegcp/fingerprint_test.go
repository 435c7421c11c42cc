package fakegcp

import (
	"encoding/base64"
	"testing"

	"github.com/meshctl/meshctl/sim/scenario"
)

// gcloud reads a fingerprint, decodes it (a bytes field) and sends it back
// in URL-safe base64: Google takes either alphabet for the same bytes.
func TestFingerprintsCompareAsBytes(t *testing.T) {
	raw := []byte{0xfc, 0x69, 0x84, 0x32, 0xcd, 0x2c, 0x79, 0xe7}
	std, url := base64.StdEncoding.EncodeToString(raw), base64.URLEncoding.EncodeToString(raw)
	if std == url {
		t.Fatal("the test value must differ between the alphabets")
	}
	if !sameFingerprint(std, url) || !sameFingerprint(url, url) {
		t.Errorf("%s and %s carry the same bytes", std, url)
	}
	if sameFingerprint(url, base64.URLEncoding.EncodeToString([]byte("other..."))) {
		t.Errorf("different fingerprints compared equal")
	}
	s := New(scenario.Default(), Options{})
	if fp := s.newFingerprint(); decodeFingerprint(fp) == "" {
		t.Errorf("fingerprint %q is not base64", fp)
	}
}
