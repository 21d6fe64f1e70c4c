// Package localdb launches throwaway local MariaDB and PostgreSQL servers, and
// NATS servers with JetStream, for tests, demos and local experiments.
//
// Each server lives in its own temporary directory (data, sockets, logs) and
// listens on a free loopback port. The server is configured the way
// change-data sync needs it: MariaDB with a ROW binary log carrying full row
// images and metadata, PostgreSQL with wal_level=logical. Root (MariaDB) and
// postgres (PostgreSQL) log in without a password over TCP on 127.0.0.1.
// NATS (StartNATS, from the installed nats-server) needs no data directory
// to build: it starts in well under a second, JetStream storage in its
// directory, no authentication.
//
// Creating a data directory from scratch (mariadb-install-db, initdb) takes
// seconds, so a pristine data directory is built once per machine and server
// version into a cache directory and copied for every new server. The cache
// lives under os.UserCacheDir()/strangler-localdb; the environment variable
// STRANGLER_LOCALDB_CACHE names another directory, or turns the cache off with
// the value "off".
//
// Server processes run in their own process group and, on Linux, are killed by
// the kernel when the process that started them dies, so a crashed test run
// leaves no server behind. Directories that such a run left in the temporary
// directory are removed by the next run.
//
// PostgreSQL refuses to run as root: when the caller is root, initdb and
// postgres run as the OS user "postgres", which must exist.
//
// For tests of other packages, use the dbtest subpackage, which shares one
// server of each kind per test binary.
package localdb
