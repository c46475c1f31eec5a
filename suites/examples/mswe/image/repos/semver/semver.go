// Package semver parses and orders semantic versions (MAJOR.MINOR.PATCH).
package semver

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a parsed MAJOR.MINOR.PATCH version.
type Version struct {
	Major, Minor, Patch int
}

// Parse reads "1.2.3" (an optional leading "v" is allowed).
func Parse(s string) (Version, error) {
	parts := strings.Split(strings.TrimPrefix(s, "v"), ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("semver: %q is not MAJOR.MINOR.PATCH", s)
	}
	var nums [3]int
	for i, part := range parts {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return Version{}, fmt.Errorf("semver: %q: bad number %q", s, part)
		}
		nums[i] = n
	}
	return Version{nums[0], nums[1], nums[2]}, nil
}

// String prints the version as MAJOR.MINOR.PATCH.
func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// Compare returns -1, 0 or +1 as v is older than, the same as or newer than w.
func Compare(v, w Version) int {
	a, b := v.String(), w.String()
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Latest returns the newest of the versions (the zero Version for none).
func Latest(versions ...Version) Version {
	var latest Version
	for i, v := range versions {
		if i == 0 || Compare(v, latest) > 0 {
			latest = v
		}
	}
	return latest
}
