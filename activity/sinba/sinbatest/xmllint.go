package sinbatest

import (
	"os"
	"os/exec"
	"sync"
	"testing"
)

var (
	xmllintOnce sync.Once
	xmllintPath string
	xmllintWhy  string
)

// Xmllint returns the path of xmllint (Debian package libxml2-utils), the
// independent validator the tests check flows with. When it is missing it
// installs it if the test runs as root, and otherwise skips the test
// saying why: scripts/test.sh installs it before the tests, so CI runs
// them.
func Xmllint(t testing.TB) string {
	t.Helper()
	xmllintOnce.Do(func() {
		if p, err := exec.LookPath("xmllint"); err == nil {
			xmllintPath = p
			return
		}
		if os.Geteuid() != 0 {
			xmllintWhy = "xmllint missing and not root: apt-get install libxml2-utils (scripts/test.sh does)"
			return
		}
		for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "libxml2-utils"}} {
			cmd := exec.Command("apt-get", args...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if out, err := cmd.CombinedOutput(); err != nil {
				xmllintWhy = "installing libxml2-utils failed: " + err.Error() + ": " + string(out)
				return
			}
		}
		p, err := exec.LookPath("xmllint")
		if err != nil {
			xmllintWhy = "xmllint still missing after installing libxml2-utils"
			return
		}
		xmllintPath = p
	})
	if xmllintPath == "" {
		t.Skip(xmllintWhy)
	}
	return xmllintPath
}
