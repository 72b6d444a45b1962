// SPDX-License-Identifier: AGPL-3.0-or-later

package keys

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// WriteNewFile creates a file durably and atomically (temporary file,
// fsync, hard link into place, fsync of the directory); it refuses to
// replace an existing file, atomically too. Keys and key-like files are
// written this way.
func WriteNewFile(path string, data []byte, mode os.FileMode) error {
	return putFile(path, data, mode, false)
}

// writeFile is WriteNewFile.
func writeFile(path string, data []byte, mode os.FileMode) error {
	return WriteNewFile(path, data, mode)
}

// replaceFile writes data to path atomically and durably: a temporary file
// in the same directory, fsync, rename over path, fsync of the directory. A
// crash leaves either the old file or the new one, never a mix.
func replaceFile(path string, data []byte, mode os.FileMode) error {
	return putFile(path, data, mode, true)
}

func putFile(path string, data []byte, mode os.FileMode, replace bool) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if replace {
		err = os.Rename(tmp, path)
	} else {
		err = os.Link(tmp, path) // fails, rather than replace, if path exists
		if errors.Is(err, os.ErrExist) {
			err = fmt.Errorf("%s exists", path)
		}
	}
	if err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// shred overwrites a file with random bytes, syncs, and removes it. On
// copy-on-write file systems and SSDs the old blocks may survive the
// overwrite; that is why the keyring is encrypted and why full-disk
// encryption is part of the host baseline (SECURITY.md §2.1).
func shred(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	junk := make([]byte, fi.Size())
	rand.Read(junk)
	_, werr := f.WriteAt(junk, 0)
	serr := f.Sync()
	cerr := f.Close()
	rerr := os.Remove(path)
	if err := errors.Join(werr, serr, cerr, rerr); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// Shred overwrites a key file with random bytes, syncs and removes it (see
// shred); a missing file is no error.
func Shred(path string) error { return shred(path) }
