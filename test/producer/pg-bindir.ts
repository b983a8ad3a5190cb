// Where the tests find PostgreSQL server binaries of a given major version (initdb, pg_ctl,
// postgres). Interim: ZEROLOSS_PG17_BINDIR, else zonky's extracted 17.12; at merge this becomes
// @zeroloss/devstack's ensurePostgresBinaries(major, { env, log }).
export function pgBinDir(major: 17): string {
  void major;
  return process.env["ZEROLOSS_PG17_BINDIR"] ?? "/tmp/pgbin-research/zonky/z17/bin";
}
