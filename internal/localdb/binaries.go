package localdb

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// mariadbBinaries are the programs needed to run a MariaDB server.
type mariadbBinaries struct {
	server  string // mariadbd
	install string // mariadb-install-db
}

// findMariaDB looks for mariadbd (or the older name mysqld) and its install
// script on PATH and in the usual system directories.
func findMariaDB() (mariadbBinaries, error) {
	dirs := []string{"/usr/sbin", "/usr/libexec", "/usr/local/sbin", "/usr/local/bin", "/usr/bin"}
	server, err := findProgram([]string{"mariadbd", "mysqld"}, dirs)
	if err != nil {
		return mariadbBinaries{}, fmt.Errorf("looking for the MariaDB server: %w", err)
	}
	dirs = append([]string{filepath.Dir(server), filepath.Join(filepath.Dir(filepath.Dir(server)), "scripts")}, dirs...)
	install, err := findProgram([]string{"mariadb-install-db", "mysql_install_db"}, dirs)
	if err != nil {
		return mariadbBinaries{}, fmt.Errorf("looking for the MariaDB install script: %w", err)
	}
	return mariadbBinaries{server: server, install: install}, nil
}

// findProgram returns the first of names found on PATH, then in dirs.
func findProgram(names, dirs []string) (string, error) {
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	for _, name := range names {
		for _, dir := range dirs {
			p := filepath.Join(dir, name)
			if isExecutable(p) {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("none of %s found on PATH or in %s", strings.Join(names, ", "), strings.Join(dirs, ", "))
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// findPostgresBinDir returns the directory holding initdb and postgres: the
// highest version under /usr/lib/postgresql, else what pg_config reports,
// else the directory of postgres on PATH.
func findPostgresBinDir() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(matches, func(i, j int) bool {
		return versionLess(filepath.Base(filepath.Dir(matches[j])), filepath.Base(filepath.Dir(matches[i])))
	})
	for _, dir := range matches {
		if hasPostgres(dir) {
			return dir, nil
		}
	}
	if pgConfig, err := exec.LookPath("pg_config"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, pgConfig, "--bindir").Output(); err == nil {
			if dir := strings.TrimSpace(string(out)); hasPostgres(dir) {
				return dir, nil
			}
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil && hasPostgres(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("looking for PostgreSQL: no initdb and postgres in /usr/lib/postgresql/*/bin, pg_config --bindir or PATH")
}

func hasPostgres(dir string) bool {
	return isExecutable(filepath.Join(dir, "postgres")) && isExecutable(filepath.Join(dir, "initdb"))
}

// versionLess compares dotted version numbers such as "9.6" and "15".
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, errx := strconv.Atoi(as[i])
		y, erry := strconv.Atoi(bs[i])
		if errx != nil || erry != nil {
			return a < b
		}
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

// postgresCredential returns the credential to run PostgreSQL programs with:
// nil for a normal user, the OS user "postgres" for root, since PostgreSQL
// refuses to run as root.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("looking up the OS user postgres to run PostgreSQL as, since it refuses to run as root: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parsing uid %q of the OS user postgres: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parsing gid %q of the OS user postgres: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// binaryStamp identifies a program build by path, size and modification
// time, cheaply, for the template cache key.
func binaryStamp(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return fmt.Sprintf("%s:%d:%d", path, fi.Size(), fi.ModTime().UnixNano()), nil
}

// childEnv is the environment for server programs: ours, without variables
// that would point them at another server or change their language (log
// tails are matched against English messages).
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "PG"), strings.HasPrefix(k, "MYSQL"), strings.HasPrefix(k, "MARIADB"),
			strings.HasPrefix(k, "LC_"), k == "LANG", k == "LANGUAGE":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "LANG=C")
}
