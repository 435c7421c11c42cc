package findings

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestCatalogCodes(t *testing.T) {
	code := regexp.MustCompile(`^MC\d{4}$`)
	for _, typ := range Catalog() {
		if !code.MatchString(typ.Code) {
			t.Errorf("code %q is not MCnnnn", typ.Code)
		}
		if typ.Level.rank() == 0 || typ.Title == "" {
			t.Errorf("%s: level %q, title %q", typ.Code, typ.Level, typ.Title)
		}
		if got, ok := Lookup(typ.Code); !ok || got != typ {
			t.Errorf("Lookup(%s) = %v, %v", typ.Code, got, ok)
		}
	}
}

// docs/findings.md documents every code, one table line each, with the
// level the code has.
func TestDocsListEveryCode(t *testing.T) {
	b, err := os.ReadFile("../../docs/findings.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		m := regexp.MustCompile(`^\| (MC\d{4}) \| (\w+) \|`).FindStringSubmatch(line)
		if m != nil {
			documented[m[1]] = m[2]
		}
	}
	for _, typ := range Catalog() {
		level, ok := documented[typ.Code]
		if !ok {
			t.Errorf("docs/findings.md lacks %s (%s)", typ.Code, typ.Title)
		} else if level != string(typ.Level) {
			t.Errorf("docs/findings.md gives %s level %s, the catalog %s", typ.Code, level, typ.Level)
		}
		delete(documented, typ.Code)
	}
	for c := range documented {
		t.Errorf("docs/findings.md documents %s, which the catalog does not define", c)
	}
}

func TestFailsAndSummary(t *testing.T) {
	fs := []Finding{
		NodeVersionBehind.New("node pool a", "behind", ""),
		ReleaseChannel.New("cluster x", "note", ""),
	}
	tests := []struct {
		failOn Level
		want   bool
	}{{"", false}, {Error, false}, {Warning, true}, {Info, true}}
	for _, tc := range tests {
		if got := Fails(fs, tc.failOn); got != tc.want {
			t.Errorf("Fails(warning+info, %q) = %v", tc.failOn, got)
		}
	}
	if !Fails(append(fs, WebhookPortBlocked.New("cluster x", "blocked", "")), Error) {
		t.Error("an error did not fail with --fail-on error")
	}
	if got := Summarize(fs).String(); got != "0 errors, 1 warning, 1 note" {
		t.Errorf("summary %q", got)
	}
}

func TestLevelFlag(t *testing.T) {
	l := Error
	if err := l.Set("WARNING"); err != nil || l != Warning {
		t.Errorf("Set(WARNING): %v, %v", l, err)
	}
	if err := l.Set("fatal"); err == nil || !strings.Contains(err.Error(), "error, warning or info") {
		t.Errorf("Set(fatal): %v", err)
	}
	if l.String() != "warning" || l.Type() != "level" {
		t.Errorf("String %q Type %q", l.String(), l.Type())
	}
}

func TestFindingString(t *testing.T) {
	f := PortNaming.New("Service shop/web port 8080", "names no protocol", "kubectl ...")
	if got := f.String(); got != "Warning [MC0156] (Service shop/web port 8080) names no protocol" {
		t.Errorf("%q", got)
	}
}

func TestSort(t *testing.T) {
	fs := []Finding{PortNaming.New("b", "", ""), ReleaseChannel.New("", "", ""), WebhookPortBlocked.New("", "", ""), PortNaming.New("a", "", "")}
	Sort(fs)
	var got []string
	for _, f := range fs {
		got = append(got, f.Code+f.Object)
	}
	if strings.Join(got, " ") != "MC0131 MC0156a MC0156b MC0113" {
		t.Errorf("order %v", got)
	}
}
