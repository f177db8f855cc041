// SPDX-License-Identifier: GPL-2.0
/*
 * ckdump_panic.ko - crashes the kernel on purpose, in a chosen context, so that ckdump's
 * tests have real kdump vmcores with known module frames.
 *
 * Writing one word to /proc/ckdump_panic picks the scenario:
 *   process  panic() in the write handler (process context)
 *   softirq  panic() from a timer_list callback (TIMER_SOFTIRQ)
 *   hardirq  panic() from an hrtimer callback in hard-irq mode (HRTIMER_MODE_REL_HARD)
 *   oops     NULL-pointer write in the module; with kernel.panic_on_oops=1 the oops panics
 *
 * Every path goes through a short chain of ckdump_* functions that are kept out of line
 * (noinline + noipa: no inlining, no cloning into .constprop/.isra copies, no noreturn
 * discovery) and are not tail calls (each caller does work after the call), so every
 * function of the chain is a frame in the dump.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/proc_fs.h>
#include <linux/uaccess.h>
#include <linux/string.h>
#include <linux/timer.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>

#define CK_FRAME noinline __attribute__((__noipa__))

/* Values that show up in the panic messages and in registers/stack slots of the dump. */
#define CK_MAGIC_PROCESS 0xc0de0001UL
#define CK_MAGIC_SOFTIRQ 0xc0de0002UL
#define CK_MAGIC_HARDIRQ 0xc0de0003UL
#define CK_MAGIC_OOPS    0xc0de0004UL

/* The oops target: a structure whose 'magic' field is 0x28 bytes in. */
struct ckdump_victim {
	unsigned long pad[5];
	unsigned long magic;
};

/* Global (in .bss) and read through READ_ONCE, so the compiler cannot see that it is NULL. */
struct ckdump_victim *ckdump_victim_ptr;

static struct timer_list ckdump_timer;
static struct hrtimer ckdump_hrtimer;

/* Keeps each chain function's result alive, so calls stay real calls with work after them. */
static volatile unsigned long ckdump_sink;

/* ---- process context ------------------------------------------------------------------ */

static CK_FRAME unsigned long ckdump_process_leaf(unsigned long magic)
{
	/* Conditional, so objtool does not treat the function as noreturn. */
	if (magic)
		panic("ckdump_panic: process-context panic, magic %#lx", magic);
	return magic;
}

static CK_FRAME unsigned long ckdump_process_mid(unsigned long magic)
{
	unsigned long r = ckdump_process_leaf(magic);

	ckdump_sink = r;
	return r + 1;
}

static CK_FRAME unsigned long ckdump_process_top(unsigned long magic)
{
	unsigned long r = ckdump_process_mid(magic);

	ckdump_sink = r;
	return r + 1;
}

/* ---- softirq (timer_list) ------------------------------------------------------------- */

static CK_FRAME unsigned long ckdump_softirq_leaf(unsigned long magic)
{
	/* Conditional, so objtool does not treat the function as noreturn. */
	if (magic)
		panic("ckdump_panic: softirq panic from timer_list callback, magic %#lx", magic);
	return magic;
}

static CK_FRAME unsigned long ckdump_softirq_mid(unsigned long magic)
{
	unsigned long r = ckdump_softirq_leaf(magic);

	ckdump_sink = r;
	return r + 1;
}

static CK_FRAME void ckdump_timer_fn(struct timer_list *t)
{
	ckdump_sink = ckdump_softirq_mid(CK_MAGIC_SOFTIRQ);
	ckdump_sink++;
}

/* ---- hard irq (hrtimer, HRTIMER_MODE_REL_HARD) ---------------------------------------- */

static CK_FRAME unsigned long ckdump_hardirq_leaf(unsigned long magic)
{
	/* Conditional, so objtool does not treat the function as noreturn. */
	if (magic)
		panic("ckdump_panic: hardirq panic from hrtimer callback, magic %#lx", magic);
	return magic;
}

static CK_FRAME unsigned long ckdump_hardirq_mid(unsigned long magic)
{
	unsigned long r = ckdump_hardirq_leaf(magic);

	ckdump_sink = r;
	return r + 1;
}

static CK_FRAME enum hrtimer_restart ckdump_hrtimer_fn(struct hrtimer *t)
{
	ckdump_sink = ckdump_hardirq_mid(CK_MAGIC_HARDIRQ);
	ckdump_sink++;
	return HRTIMER_NORESTART;
}

/* ---- oops (NULL-pointer write) -------------------------------------------------------- */

static CK_FRAME unsigned long ckdump_oops_leaf(unsigned long magic)
{
	struct ckdump_victim *v = READ_ONCE(ckdump_victim_ptr);

	v->magic = magic; /* page fault at address 0x28 */
	return magic;
}

static CK_FRAME unsigned long ckdump_oops_mid(unsigned long magic)
{
	unsigned long r = ckdump_oops_leaf(magic);

	ckdump_sink = r;
	return r + 1;
}

/* ---- /proc/ckdump_panic --------------------------------------------------------------- */

static CK_FRAME int ckdump_trigger(const char *word)
{
	if (!strcmp(word, "process")) {
		ckdump_sink = ckdump_process_top(CK_MAGIC_PROCESS);
	} else if (!strcmp(word, "softirq")) {
		pr_info("ckdump_panic: arming timer_list for the softirq panic\n");
		mod_timer(&ckdump_timer, jiffies + 1);
	} else if (!strcmp(word, "hardirq")) {
		pr_info("ckdump_panic: arming hard-irq hrtimer for the hardirq panic\n");
		hrtimer_start(&ckdump_hrtimer, ms_to_ktime(5), HRTIMER_MODE_REL_HARD);
	} else if (!strcmp(word, "oops")) {
		ckdump_sink = ckdump_oops_mid(CK_MAGIC_OOPS);
	} else {
		return -EINVAL;
	}
	ckdump_sink++;
	return 0;
}

static CK_FRAME ssize_t ckdump_write(struct file *file, const char __user *ubuf, size_t len,
				     loff_t *ppos)
{
	char word[16];
	size_t n = min(len, sizeof(word) - 1);
	int err;

	if (copy_from_user(word, ubuf, n))
		return -EFAULT;
	word[n] = '\0';
	strim(word);
	pr_info("ckdump_panic: trigger '%s' from pid %d (%s)\n", word, task_pid_nr(current),
		current->comm);
	err = ckdump_trigger(strim(word));
	ckdump_sink++;
	return err ? err : len;
}

static const struct proc_ops ckdump_proc_ops = {
	.proc_write = ckdump_write,
};

static struct proc_dir_entry *ckdump_proc_entry;

static int __init ckdump_init(void)
{
	timer_setup(&ckdump_timer, ckdump_timer_fn, 0);
	hrtimer_init(&ckdump_hrtimer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	ckdump_hrtimer.function = ckdump_hrtimer_fn;
	ckdump_proc_entry = proc_create("ckdump_panic", 0200, NULL, &ckdump_proc_ops);
	if (!ckdump_proc_entry)
		return -ENOMEM;
	pr_info("ckdump_panic: loaded, write process|softirq|hardirq|oops to /proc/ckdump_panic\n");
	return 0;
}

static void __exit ckdump_exit(void)
{
	proc_remove(ckdump_proc_entry);
	del_timer_sync(&ckdump_timer);
	hrtimer_cancel(&ckdump_hrtimer);
}

module_init(ckdump_init);
module_exit(ckdump_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("ckdump test fixture: panics in process, softirq, hardirq or oops context");
