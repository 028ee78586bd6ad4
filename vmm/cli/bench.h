/* vmm bench fio: what one bench holds while it runs (its targets: the variants and the host
 * references, each with its runs) and the steps that share it: running a target once
 * (bench-run.c), what the manifests say of the host and the VM (bench-manifest.c), the files
 * and the table of a finished bench (bench-report.c), and comparing two (bench-compare.c). */
#ifndef VMM_BENCH_H
#define VMM_BENCH_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "vmm/base/error.h"
#include "vmm/cli/bench-fio.h"
#include "vmm/cli/bench-stats.h"
#include "vmm/launch/plan.h"

/* One run of one target. */
struct bench_run {
	bool done, ok;
	char *error;              /* why it failed */
	struct fio_metrics m;
	int64_t started, ended;   /* ms since the epoch */
	/* Milliseconds: the whole run, the guest's boot (QEMU running until its agent answers),
	 * the guest finding the disk and fio (a shell script run through the agent), fio in the
	 * guest (guest-exec until it has ended), the guest's shutdown, and what is left: vmm's own
	 * overhead (the supervisor and QEMU's start, agent round trips, files), and of it the
	 * start (until QEMU runs). */
	double total_ms, boot_ms, lookup_ms, fio_ms, stop_ms, vmm_ms, start_ms;
};

/* A variant booted under vmm, or the host reference of the variants whose images share its
 * filesystem (or block device). */
struct bench_target {
	char *id;            /* "v1", ..., "host", "host2" */
	char *label;         /* the variant's matrix values, or the host file or device */
	bool host;
	int ref;             /* a variant: the index of its host reference, -1: none */
	char *ref_note;      /* a variant without one: why */
	char *error;         /* known before it ran: every run fails with it */
	/* A variant. */
	struct strv sets;
	char *disk;          /* the disk fio runs on */
	bool planned;
	struct plan plan;
	char *vm_name;
	struct cpulist keep_off; /* the host CPUs its vCPUs and iothreads are pinned to */
	/* Its image (a variant's disk file; a host reference's file or device). */
	char *image;
	bool block_device;
	uint64_t size;       /* the target's size, bytes */
	char *job;           /* the job text fio ran, as vmm pointed it */
	char *fio_version;
	struct json_object *facts; /* what the manifest says of the VM, read once it ran */
	struct bench_run *runs;    /* one per repeat */
	unsigned n_runs;           /* the repeats */
};

struct bench {
	const char *out_dir;
	const char *job;      /* the preset's or the job file's text */
	const char *job_name; /* the preset's name or the job file's path */
	unsigned runtime;     /* seconds, 0: as the job says */
	unsigned repeats;
	struct bench_target *targets;
	size_t n_targets;
	int64_t started, ended;
};

/* Set by SIGINT or SIGTERM: the run under way stops its VM and the bench ends there. */
extern volatile sig_atomic_t bench_interrupted;

/* Runs repeat r of target t, filling t->runs[r] (a failure is recorded there, not returned).
 * Returns -1 with err only for what ends the whole bench (the guest has no fio). */
int bench_run_target(struct bench *b, struct bench_target *t, unsigned r, struct verr *err);

/* The facts of the host (kernel, CPU model, governor, SMT, THP and huge pages). */
struct json_object *bench_host_facts(void);

/* The filesystem and device under path: {"filesystem", "device", "mount"}. */
struct json_object *bench_storage_facts(const char *path);

/* QEMU's threads and the host CPUs each may run on (read from /proc now, after pinning). */
struct json_object *bench_cpu_map(pid_t qemu);

/* The manifest of target t (its facts, job, runs' times). */
struct json_object *bench_manifest(const struct bench *b, const struct bench_target *t);

/* The statistic of metric i of target t over its successful runs. */
void bench_target_stat(const struct bench_target *t, size_t i, struct bench_stat *s);

/* Writes results.json, summary.csv, report.svg and each target's manifest.json into the
 * output directory. Returns 0, or -1 with err. */
int bench_write_files(const struct bench *b, struct verr *err);

/* Prints the table of the results on stdout. */
void bench_print_table(const struct bench *b);

/* The results as results.json holds them (owned). */
struct json_object *bench_results_json(const struct bench *b);

/* vmm bench compare DIR_A DIR_B: prints the differences. Returns 0, or -1 with err. */
int bench_compare_dirs(const char *a, const char *b, struct verr *err);

#endif
