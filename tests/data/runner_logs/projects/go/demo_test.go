package demo

import "testing"

func TestPasses(t *testing.T) {}

func TestFails(t *testing.T) { t.Fatal("wrong answer") }

func TestSkipped(t *testing.T) { t.Skip("not on this machine") }

func TestTable(t *testing.T) {
	for _, name := range []string{"ok", "bad"} {
		t.Run(name, func(t *testing.T) {
			if name == "bad" {
				t.Error("bad case")
			}
		})
	}
}
