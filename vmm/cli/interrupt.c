#include "vmm/cli/interrupt.h"

/* The signals the guard notes. */
static const int guarded[] = { SIGINT, SIGTERM, SIGHUP };

/* Set by a guarded signal. */
static volatile sig_atomic_t hit;

/* Notes the signal. */
static void on_signal(int sig)
{
	(void)sig;
	hit = 1;
}

void interrupt_guard_begin(struct interrupt_guard *g)
{
	hit = 0;
	for (size_t i = 0; i < sizeof(guarded) / sizeof(*guarded); i++)
		sigaction(guarded[i], &(struct sigaction){ .sa_handler = on_signal, .sa_flags = SA_RESTART }, &g->old[i]);
}

bool interrupt_guard_hit(void)
{
	return hit;
}

void interrupt_guard_end(struct interrupt_guard *g)
{
	for (size_t i = 0; i < sizeof(guarded) / sizeof(*guarded); i++)
		sigaction(guarded[i], &g->old[i], NULL);
}
