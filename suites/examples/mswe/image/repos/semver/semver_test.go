package semver

import "testing"

func mustParse(t *testing.T, s string) Version {
	t.Helper()
	v, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParse(t *testing.T) {
	if got := mustParse(t, "v1.2.3"); got != (Version{1, 2, 3}) {
		t.Fatalf("Parse(v1.2.3) = %v", got)
	}
}

func TestParseRejects(t *testing.T) {
	for _, input := range []string{"1.2", "1.2.3.4", "1.x.3", "1.-2.3"} {
		t.Run(input, func(t *testing.T) {
			if _, err := Parse(input); err == nil {
				t.Fatalf("Parse(%q) accepted it", input)
			}
		})
	}
}

func TestString(t *testing.T) {
	if got := (Version{4, 0, 12}).String(); got != "4.0.12" {
		t.Fatalf("String() = %q", got)
	}
}

func TestCompareSingleDigits(t *testing.T) {
	if Compare(mustParse(t, "1.2.3"), mustParse(t, "1.3.0")) != -1 {
		t.Fatal("1.2.3 should be older than 1.3.0")
	}
	if Compare(mustParse(t, "2.0.0"), mustParse(t, "2.0.0")) != 0 {
		t.Fatal("2.0.0 should equal itself")
	}
}
