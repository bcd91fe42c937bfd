package vaultcfg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
)

// keyringFormat is the only keyring format this package reads and writes.
const keyringFormat = 1

// keyringFile is the JSON layout of the file keyring:
// {"format":1,"secrets":{"<name>":[{"version":1,"created_at":"RFC3339","material":"<base64>"}]}}.
type keyringFile struct {
	Format  int                       `json:"format"`
	Secrets map[string][]keyringEntry `json:"secrets"`
}

type keyringEntry struct {
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	Material  []byte    `json:"material"` // encoding/json writes []byte as standard base64
}

// FileSource is the Source backed by a local JSON keyring. Every read loads
// the file again, so rotations made by another process are seen at once;
// writes hold a process mutex and an flock on "<keyring>.lock" and replace
// the file atomically.
type FileSource struct {
	path   string
	logger *slog.Logger
}

var _ Source = (*FileSource)(nil)

// pathLocks holds one mutex per absolute keyring path: flock alone orders
// processes, the mutex orders goroutines of this process.
var pathLocks sync.Map // string → *sync.Mutex

func openFile(cfg Config) (*FileSource, error) {
	s := &FileSource{path: cfg.KeyringPath, logger: cfg.Logger}
	if _, err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// Kind returns "file".
func (s *FileSource) Kind() string { return KindFile }

// Path returns the keyring's path.
func (s *FileSource) Path() string { return s.path }

// Close does nothing: the file source holds nothing open between calls.
func (s *FileSource) Close() error { return nil }

// Check reports whether the keyring exists, is private and parses.
func (s *FileSource) Check(ctx context.Context) error {
	_, err := s.load()
	return err
}

// Secret returns the newest version of name.
func (s *FileSource) Secret(ctx context.Context, name string) (Secret, error) {
	entries, err := s.entries(name)
	if err != nil {
		return Secret{}, err
	}
	return toSecret(name, entries[len(entries)-1]), nil
}

// SecretVersion returns the given version of name.
func (s *FileSource) SecretVersion(ctx context.Context, name string, version int) (Secret, error) {
	entries, err := s.entries(name)
	if err != nil {
		return Secret{}, err
	}
	for _, e := range entries {
		if e.Version == version {
			return toSecret(name, e), nil
		}
	}
	return Secret{}, fmt.Errorf("secret %s version %d in keyring %s: %w", name, version, s.path, ErrNotFound)
}

// Versions lists the versions of name, ascending.
func (s *FileSource) Versions(ctx context.Context, name string) ([]int, error) {
	entries, err := s.entries(name)
	if err != nil {
		return nil, err
	}
	vs := make([]int, len(entries))
	for i, e := range entries {
		vs[i] = e.Version
	}
	return vs, nil
}

// Rotate appends a new random version of name and rewrites the keyring.
func (s *FileSource) Rotate(ctx context.Context, name string) (Secret, error) {
	if err := validName(name); err != nil {
		return Secret{}, err
	}
	material, err := newMaterial()
	if err != nil {
		return Secret{}, err
	}
	var added keyringEntry
	err = withKeyringLock(s.path, func() error {
		kr, err := readKeyring(s.path)
		if err != nil {
			return err
		}
		entries := kr.Secrets[name]
		if len(entries) == 0 {
			return fmt.Errorf("rotate secret %s in keyring %s: %w (run `sirm keys init`)", name, s.path, ErrNotFound)
		}
		added = keyringEntry{
			Version:   entries[len(entries)-1].Version + 1,
			CreatedAt: time.Now().UTC().Truncate(time.Second),
			Material:  material,
		}
		kr.Secrets[name] = append(entries, added)
		return writeKeyring(s.path, kr)
	})
	if err != nil {
		return Secret{}, err
	}
	sec := toSecret(name, added)
	s.logger.Info("secret rotated", slog.String("source", KindFile), slog.Any("secret", sec))
	return sec, nil
}

func (s *FileSource) entries(name string) ([]keyringEntry, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	kr, err := s.load()
	if err != nil {
		return nil, err
	}
	entries := kr.Secrets[name]
	if len(entries) == 0 {
		return nil, fmt.Errorf("secret %s in keyring %s: %w", name, s.path, ErrNotFound)
	}
	return entries, nil
}

func (s *FileSource) load() (*keyringFile, error) {
	kr, err := readKeyring(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("keyring %s: %w (run `sirm keys init`)", s.path, ErrNotFound)
	}
	return kr, err
}

func toSecret(name string, e keyringEntry) Secret {
	return Secret{Name: name, Version: e.Version, Material: slices.Clone(e.Material), CreatedAt: e.CreatedAt}
}

// initFile creates the keyring or adds the standard secrets it lacks.
func initFile(cfg Config) ([]string, error) {
	path := cfg.KeyringPath
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create keyring directory: %w", err)
	}
	var created []string
	err := withKeyringLock(path, func() error {
		kr, err := readKeyring(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			kr = &keyringFile{Format: keyringFormat, Secrets: map[string][]keyringEntry{}}
		case err != nil:
			return err
		}
		now := time.Now().UTC().Truncate(time.Second)
		for _, name := range StandardSecrets {
			if len(kr.Secrets[name]) > 0 {
				continue
			}
			m, err := newMaterial()
			if err != nil {
				return err
			}
			kr.Secrets[name] = []keyringEntry{{Version: 1, CreatedAt: now, Material: m}}
			created = append(created, name)
		}
		if len(created) == 0 {
			return nil
		}
		return writeKeyring(path, kr)
	})
	if err != nil {
		return nil, err
	}
	if len(created) > 0 {
		cfg.Logger.Info("keyring initialised", slog.String("path", path), slog.Any("created", created))
	}
	return created, nil
}

// withKeyringLock runs fn holding the process mutex of path and an exclusive
// flock on path+".lock", so that read-modify-write cycles of goroutines and
// processes do not lose each other's versions.
func withKeyringLock(path string, fn func() error) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("keyring %s: %w", path, err)
	}
	m, _ := pathLocks.LoadOrStore(abs, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	defer mu.Unlock()

	lockPath := path + ".lock"
	lf, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open keyring lock: %w", err)
	}
	defer lf.Close()
	for {
		err = syscall.Flock(int(lf.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("lock keyring %s: %w", lockPath, err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	return fn()
}

// readKeyring reads and validates the keyring; a missing file is returned
// as an error matching fs.ErrNotExist.
func readKeyring(path string) (*keyringFile, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("open keyring: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat keyring: %w", err)
	}
	if mode := fi.Mode().Perm(); mode&0o077 != 0 {
		return nil, fmt.Errorf("keyring %s has mode %04o (want 0600; chmod 600 %s): %w", path, mode, path, ErrInsecureKeyring)
	}
	var kr keyringFile
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kr); err != nil {
		// The decoder's message quotes no file content beyond a token type.
		return nil, fmt.Errorf("keyring %s: invalid JSON: %w", path, err)
	}
	if kr.Format != keyringFormat {
		return nil, fmt.Errorf("keyring %s: unsupported format %d (want %d)", path, kr.Format, keyringFormat)
	}
	if kr.Secrets == nil {
		kr.Secrets = map[string][]keyringEntry{}
	}
	for name, entries := range kr.Secrets {
		slices.SortFunc(entries, func(a, b keyringEntry) int { return a.Version - b.Version })
		for i, e := range entries {
			if e.Version < 1 || (i > 0 && entries[i-1].Version == e.Version) || len(e.Material) == 0 {
				return nil, fmt.Errorf("keyring %s: secret %s: invalid or duplicate version %d", path, name, e.Version)
			}
		}
	}
	return &kr, nil
}

// writeKeyring replaces the keyring atomically: it writes a temporary file
// with mode 0600 beside it, syncs it, renames it over the keyring and syncs
// the directory.
func writeKeyring(path string, kr *keyringFile) error {
	data, err := json.MarshalIndent(kr, "", "  ")
	if err != nil {
		return fmt.Errorf("encode keyring: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write keyring: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // fails harmlessly after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write keyring: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write keyring: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write keyring: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write keyring: %w", err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("write keyring: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
