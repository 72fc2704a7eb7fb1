package images

import "testing"

func TestAptMirror(t *testing.T) {
	oneLine := "# comment\ndeb-src http://mirror.invalid/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.invalid/debian bookworm main\n"
	if got := mirrorFromOneLine(oneLine, "bookworm"); got != "http://mirror.invalid/debian" {
		t.Errorf("one-line: %q", got)
	}
	if got := mirrorFromOneLine(oneLine, "trixie"); got != "" {
		t.Errorf("one-line, other suite: %q", got)
	}
	deb822 := "Types: deb\nURIs: http://security.invalid/debian-security\nSuites: bookworm-security\n\nTypes: deb deb-src\n# a comment\nURIs: http://mirror.invalid/debian\nSuites: bookworm bookworm-updates\nComponents: main\n"
	if got := mirrorFromDeb822(deb822, "bookworm"); got != "http://mirror.invalid/debian" {
		t.Errorf("deb822: %q", got)
	}
}
