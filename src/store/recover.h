/* Crash recovery of the packet store, run when a writer starts: what a
 * killed writer (kill -9, a crash, a power cut) left behind is made whole
 * or removed, and what was done is logged.  See docs/internals/store.md. */
#ifndef TP_STORE_RECOVER_H
#define TP_STORE_RECOVER_H

struct tp_sessions;

struct tp_recover_result {
	unsigned segments;       /* hidden segments completed and renamed */
	unsigned indexes;        /* indexes rebuilt (missing or damaged) */
	unsigned removed;        /* leftovers removed */
	unsigned long long cut;  /* bytes of partial records cut off */
};

/* Recover the store in dir.  Files of a writer that is still running
 * (its pid, in the file name, is alive) are left alone.  Sessions names
 * the sessions of rebuilt indexes.  Never fails: what cannot be done is
 * logged and left. */
void tp_store_recover(const char *dir, struct tp_sessions *sessions,
		      struct tp_recover_result *res);

#endif
