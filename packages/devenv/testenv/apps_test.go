package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// A build directory is removed once its process has ended, never while it
// runs.
func TestSweepBuildDirsRemovesOnlyEndedProcesses(t *testing.T) {
	ended := exec.Command("true")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	gone, err := os.MkdirTemp("", buildDirPrefix+strconv.Itoa(ended.Process.Pid)+"-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(gone)
	if err := os.WriteFile(filepath.Join(gone, "server"), []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	mine, err := os.MkdirTemp("", buildDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(mine)
	sweepBuildDirs()
	if _, err := os.Stat(gone); !os.IsNotExist(err) {
		t.Fatalf("the directory of an ended process is still there (%v)", err)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Fatalf("the directory of a running process was removed: %v", err)
	}
}
