/* fio for vmm bench: the preset jobs, a job's text pointed at the target vmm chose, and
 * fio's JSON output (untrusted: it comes from the guest) read into the figures vmm reports.
 * Pure: nothing here prints or touches a VM. */
#ifndef VMM_BENCH_FIO_H
#define VMM_BENCH_FIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/base/error.h"

/* The names of the preset jobs, NULL-terminated. */
extern const char *const fio_preset_names[];

/* The job text of preset name, or NULL with err naming the presets there are. */
const char *fio_preset(const char *name, struct verr *err);

/* What a job is run with besides its own text. */
struct fio_target {
	const char *filename; /* the file or device every job of it reads and writes */
	unsigned runtime;     /* seconds (time-based), 0: as the job says */
	uint64_t size;        /* bytes for a job that names none (a file to lay out), 0: none */
};

/* The job text with every section pointed at t (filename, runtime, size), the options that
 * would place files elsewhere (directory, filename_format, opendir) dropped. Returns the new
 * text (owned), or NULL with err when the job has no [section] or a line fio cannot read. */
char *fio_job_for(const char *job, const struct fio_target *t, struct verr *err);

/* True when the job writes (any rw/readwrite value other than read and randread). */
bool fio_job_writes(const char *job);

/* The figures of one fio run, summed over its jobs and directions. */
struct fio_metrics {
	double iops;     /* I/Os per second */
	double bw;       /* bytes per second */
	double lat_mean; /* mean latency, microseconds (total latency; completion latency when fio gave no other) */
	double p50, p99, p999; /* percentiles, microseconds (of the slowest direction) */
};

/* The metrics in their order, for tables and files: name, unit, and whether higher is better. */
struct fio_metric_info {
	const char *name, *unit;
	bool higher_better;
	size_t offset; /* of the double in struct fio_metrics */
};
extern const struct fio_metric_info fio_metric_info[];
#define FIO_N_METRICS 6

/* A metric's value in m. */
double fio_metric(const struct fio_metrics *m, size_t i);

/* Reads fio's --output-format=json output (text before the first '{', such as fio's warnings,
 * is skipped). Returns 0 with *m and *version (owned, "fio-3.33"; "" when absent), or -1 with
 * err saying what is wrong (not JSON, a job that failed with its error, no I/O). */
int fio_parse_result(const char *text, size_t len, struct fio_metrics *m, char **version, struct verr *err);

#endif
