// The names zeroloss takes in every target table, besides the source's columns: the hidden
// column holding each row's applied LSN, and the prefix of the staging tables' own columns.
// Declared here so the consumer (which writes them) and `zeroloss check` (which tells a
// source column that would collide, and a target column that is zeroloss's) agree.

/** The hidden column every target table carries: the LSN of the change that last wrote the row. */
export const LSN_COLUMN = "_zeroloss_lsn";

/** Column names the staging tables use for their own bookkeeping; a source column may not start so. */
export const STAGING_PREFIX = "zl$";
