// Package outfile checks, before any work starts, that a file hpcbench
// was asked to write can be created where it was asked: a missing folder
// is named as such, rather than surfacing at the end of the work as the
// failure of a temporary file the user never heard of.
package outfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNoFolder: the folder a file is to be written in does not exist, or
// is not a folder.
var ErrNoFolder = errors.New("no such folder")

// CheckFolder reports whether the folder path would be written in exists
// and is a folder. The error names path and the folder, and wraps
// ErrNoFolder.
func CheckFolder(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("cannot write %s: %w: %s does not exist (create it first)", path, ErrNoFolder, dir)
	case err != nil:
		return fmt.Errorf("cannot write %s: folder %s: %w", path, dir, err)
	case !st.IsDir():
		return fmt.Errorf("cannot write %s: %w: %s is not a folder", path, ErrNoFolder, dir)
	}
	return nil
}
