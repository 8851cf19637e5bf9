/*
 * The user-mode stub: the only code that lives in a guest's host process besides the guest.
 * No libc, no writable data, no stack use: every entry point works from registers alone (guest
 * threads can write any writable page of the process, so nothing here trusts memory except the
 * request page, which the stub maps read-only and only the kernel writes, via the direct map).
 * Linked at STUB_BASE (0x7ff800000000), above the guest's user_top(). Entry points sit at fixed
 * offsets (.org) that ostd-host-backend/src/stub_layout.h mirrors.
 * The kernel drives it with ptrace: it sets registers and resumes at one of these labels; each
 * ends in int3, which stops the thread for the kernel again. Guest threads are only ever resumed
 * with PTRACE_SYSEMU, so a guest jumping here cannot make a host system call.
 */
#include "stub_layout.h"

/* Resumes the context whose ucontext is at rdx, the stack pointer below its frame and clear of
 * it, without the host's rt_sigreturn (which the stubs' filter refuses: a guest jumping to it
 * could load a signal mask or an alternate stack of its choosing): the FPU state from the
 * frame's XSAVE image (FXSAVE if the host wrote no XSAVE magic), the general registers, then
 * iretq (rip, rsp and rflags at once: nothing is written below that stack pointer, and a TF in
 * the flags single-steps the first instruction, as after a return from the host). NT, which the
 * host leaves set in a handler when the interrupted code had it, goes first: iretq with NT set
 * faults; the frame's own NT comes back with its flags. Clobbers everything. */
.macro RESUME_FROM_RDX
    pushfq
    andq $~0x4000, (%rsp)
    popfq
    mov %rdx, %rbx
    mov UC_FPREGS(%rbx), %rdi       /* uc_mcontext.fpregs */
    cmpl $0x46505853, FP_SW_MAGIC1(%rdi) /* FP_XSTATE_MAGIC1 */
    jne .Lfxrstor\@
    mov $-1, %eax
    mov $-1, %edx
    xrstor64 (%rdi)
    jmp .Lregs\@
.Lfxrstor\@:
    fxrstor64 (%rdi)
.Lregs\@:
    pushq $0x2b                     /* ss */
    pushq UC_RSP(%rbx)              /* rsp */
    pushq UC_EFL(%rbx)              /* rflags */
    pushq $0x33                     /* cs */
    pushq UC_RIP(%rbx)              /* rip */
    mov UC_R8(%rbx), %r8
    mov UC_R9(%rbx), %r9
    mov UC_R10(%rbx), %r10
    mov UC_R11(%rbx), %r11
    mov UC_R12(%rbx), %r12
    mov UC_R13(%rbx), %r13
    mov UC_R14(%rbx), %r14
    mov UC_R15(%rbx), %r15
    mov UC_RDI(%rbx), %rdi
    mov UC_RSI(%rbx), %rsi
    mov UC_RBP(%rbx), %rbp
    mov UC_RDX(%rbx), %rdx
    mov UC_RAX(%rbx), %rax
    mov UC_RCX(%rbx), %rcx
    mov UC_RBX(%rbx), %rbx
    iretq
.endm

    .section .text, "ax"
    .globl _start
_start:
    int3
    jmp _start

.org STUB_OFF_SYSCALL
/* One host system call: rax = number, rdi, rsi, rdx, r10, r8, r9 = arguments. */
    .globl stub_syscall
stub_syscall:
    syscall
    int3
    jmp stub_syscall

.org STUB_OFF_BATCH
/* A batch of host system calls described in the request page.
 * r12 = first request, r13 = count; each request is 7 quadwords: nr, a0..a5.
 * Stops at int3 with rax = 0 and r13 = 0 on success, or rax = -errno and r13 = requests left. */
    .globl stub_batch
stub_batch:
1:  test %r13, %r13
    jz 3f
    mov 0(%r12), %rax
    mov 8(%r12), %rdi
    mov 16(%r12), %rsi
    mov 24(%r12), %rdx
    mov 32(%r12), %r10
    mov 40(%r12), %r8
    mov 48(%r12), %r9
    syscall
    cmp $-4095, %rax
    jae 2f
    add $REQ_SIZE, %r12
    dec %r13
    jmp 1b
2:  int3
    jmp 2b
3:  xor %eax, %eax
    int3
    jmp 3b

.org STUB_OFF_SEGV_HANDLER
/* SIGSEGV handler (SA_SIGINFO|SA_ONSTACK|SA_NODEFER, on a per-thread altstack): reports the
 * page-fault error code and vector the kernel cannot get from siginfo, then stops. The kernel
 * never returns through the signal frame; it restores the guest registers it saved itself.
 * rdi = signo, rsi = siginfo_t*, rdx = ucontext_t*. Out: rax = err, rcx = trapno, rbx = si_addr. */
    .globl stub_segv_handler
stub_segv_handler:
    mov SI_ADDR(%rsi), %rbx
    mov UC_ERR(%rdx), %rax
    mov UC_TRAPNO(%rdx), %rcx
    int3
    jmp stub_segv_handler

.org STUB_OFF_RESTORER
    .globl stub_restorer
stub_restorer:
    int3
    jmp stub_restorer

.org STUB_OFF_SEGV_ACTION
/* struct kernel_sigaction for SIGSEGV: handler, flags, restorer, mask. */
    .globl stub_segv_action
stub_segv_action:
    .quad stub_segv_handler
    .quad 0x4C000004            /* SA_SIGINFO | SA_ONSTACK | SA_RESTORER | SA_NODEFER */
    .quad stub_restorer
    .quad 0


/* ---- seccomp platform ------------------------------------------------------------------------
 * Guest threads are not traced: a seccomp filter (installed by each guest thread itself, below)
 * turns their system calls into SIGSYS, and every event (SIGSYS, faults, the kernel's kick
 * SIGUSR2) runs stub_sig_handler on the thread's altstack, whose pages are physical frames the
 * kernel reads and writes through its direct map. The handler posts the event in the thread's
 * mailbox page, rings the doorbell, spins or sleeps on a futex until the kernel replies, and
 * resumes the guest from the (kernel-edited) signal frame with xrstor and iretq. */

.org STUB_OFF_CLONE
/* Control thread, driven by ptrace: rax = SYS_clone, rdi = flags, rsi = 0, rdx = 0, r10 = the
 * new thread's clear-tid word, r8 = 0, r12 = its stack_t, r13 = the filter's sock_fprog.
 * The parent stops at int3 with rax = tid; the child installs its altstack, moves to the
 * guests' CPUs (the control thread stays on the kernel's, for cheap ptrace hand-offs) and the filter,
 * then parks in the handler through ud2 at stub_park. */
    .globl stub_clone
stub_clone:
    syscall
    test %rax, %rax
    jz 1f
    int3
    jmp stub_clone
1:  mov $131, %eax              /* sigaltstack(r12, NULL) */
    mov %r12, %rdi
    xor %esi, %esi
    syscall
    test %rax, %rax
    jnz 9f
    movabs $STUB_CONFIG_PAGE, %rsi    /* config +16: CPU mask size (0: keep the kernel's CPU) */
    mov CFG_CPU_MASK_SIZE(%rsi), %rsi
    test %rsi, %rsi
    jz 2f
    mov $203, %eax              /* sched_setaffinity(0, size, config + 512) */
    xor %edi, %edi
    movabs $(STUB_CONFIG_PAGE + STUB_CONFIG_CPU_MASK), %rdx
    syscall
2:  mov $317, %eax              /* seccomp(SECCOMP_SET_MODE_FILTER, 0, r13) */
    mov $1, %edi
    xor %esi, %esi
    mov %r13, %rdx
    syscall
    test %rax, %rax
    jnz 9f
.org STUB_OFF_PARK, 0x90
    .globl stub_park
stub_park:
    ud2
9:  mov $60, %eax               /* exit(1): the clear-tid word tells the kernel */
    mov $1, %edi
    syscall
    ud2

.org STUB_OFF_SIG_HANDLER
/* rdi = signo, rsi = siginfo_t*, rdx = ucontext_t*, rsp = the frame (return address slot).
 * Mailbox (4 KiB per thread, slot = (rsp - ALTSTACKS) / 64 KiB):
 *   0 u32 state (0 running, 1 posted, 2 replied)   4 u32 clear-tid word
 *   8 signo  16 siginfo*  24 ucontext*  32 frame rsp  40 fs base  48 gs base
 *   56 command (0 resume, 1 exit)  64 set flags (1 fs, 2 gs)  72 new fs  80 new gs
 *   88 u32 crowd (the kernel, at the reply: guest threads whose event it holds)
 *   96 u32 sleeping (set while in FUTEX_WAIT: the kernel wakes the futex only then)
 *   104 u32 kick pending (a kick came while the reply was being applied: post again)
 *   112 the futex word the handler sleeps on (its word in the wake page; else +0, the state)
 *   128 stack_t for stub_clone   152 stub_fast_syscall's address   160..191 its scratch
 *   192..255 a bit per system call number: it blocked the last two times (the kernel's hint)
 *   256 the mailbox's own address (stub_fast_syscall finds it as %gs:MB_SELF, no rdgsbase needed)
 * Signals are not blocked in the handler (blocking them would cost the way back a system call
 * to unblock them): the guest resumes through xrstor and iretq, without rt_sigreturn. So the
 * kick can land in the handler's own code; stub_nested sorts that out. */
    .globl stub_sig_handler
stub_sig_handler:
    mov %rsp, %rax
    movabs $STUB_ALTSTACKS, %rcx    /* kStubAltStacks */
    sub %rcx, %rax
    shr $16, %rax
    cmp $STUB_MAX_THREADS, %rax
    jae 9f
    shl $12, %rax
    movabs $STUB_MAILBOXES, %rcx    /* kStubMailboxes */
    add %rcx, %rax
    mov %rax, %rbx
    mov UC_RIP(%rdx), %rax          /* interrupted in the fast entry, before its frame is */
    lea stub_fast_syscall(%rip), %rcx   /* complete (the host's frame is at the altstack's */
    sub %rcx, %rax                  /* top, clear of it): the thread posts at once */
    cmp $(stub_fast_end - stub_fast_syscall), %rax
    jb 21f
    mov UC_RIP(%rdx), %rax          /* interrupted in the handler's code, on this thread's */
    lea stub_sig_handler(%rip), %rcx    /* altstack: a nested event */
    sub %rcx, %rax
    cmp $0xe00, %rax
    jae 0f
    mov UC_RSP(%rdx), %rax
    xor %rsp, %rax
    shr $16, %rax
    jz 20f
0:  mov %rdx, MB_UC(%rbx)
    mov %rsp, MB_RSP(%rbx)
    mov %rdi, MB_SIGNO(%rbx)
    mov %rsi, MB_SIGINFO(%rbx)
    mov $-1, %r10d                  /* r10 = the system call's number (SIGSYS), else -1 */
    cmp $31, %edi
    jne 10f
    movl SI_SYSCALL(%rsi), %r10d    /* siginfo si_syscall */
10: movabs $STUB_CONFIG_PAGE, %rcx    /* kStubConfigPage: flags bit 0 = FSGSBASE usable */
    testq $1, (%rcx)
    jz 1f
    rdfsbase %rax
    mov %rax, MB_FS(%rbx)
    rdgsbase %rax
    mov %rax, MB_GS(%rbx)
    jmp 2f
/* Without FSGSBASE the guest changes its bases only through arch_prctl, which the kernel
 * answers (the stub sets them and records them at +40/+48 on the way back), or by loading a
 * segment selector, which leaves a non-zero selector: then ask the host. A null selector
 * loaded over a base (on CPUs where that clears it) is the one change neither sees. */
1:  mov %fs, %eax
    mov %gs, %ecx
    or %ecx, %eax
    jz 2f
    mov $158, %eax                  /* arch_prctl(ARCH_GET_FS / ARCH_GET_GS, &mailbox) */
    mov $0x1003, %edi
    lea MB_FS(%rbx), %rsi
    syscall
    mov $158, %eax
    mov $0x1004, %edi
    lea MB_GS(%rbx), %rsi
    syscall
    jmp 2f
/* A nested event (rbx = mailbox, rdi = signo, rdx = its ucontext). Only the kick can come
 * here; the interrupted handler code tells what it is to do:
 *  - before its post, or while posted: the kernel has the thread, or is about to: drop it;
 *  - after the reply, before the last look at the kick-pending word: set the word and return
 *    (that look posts again);
 *  - past that look: post the frame being resumed (+24, +32) again, now, as the kick.
 * A fault in the handler's own code (a frame or mailbox the guest overwrote) ends the thread. */
stub_nested:
20: cmp $12, %edi                   /* SIGUSR2 */
    jne 8f
    mov UC_RIP(%rdx), %rax
    lea stub_resume_nested(%rip), %rcx  /* in the way back into a context a nested event */
    cmp %rcx, %rax                  /* interrupted: that way back starts over, from the */
    jb 26f                          /* same frame (this one is dropped: never deeper), and */
    lea stub_resume_nested_end(%rip), %rcx  /* the kick is left pending: the look after */
    cmp %rcx, %rax                  /* the next reply posts it (at worst once too often) */
    jae 26f
    movl $1, MB_KICK_PENDING(%rbx)
    jmp stub_resume_nested
26: lea stub_posted(%rip), %rcx
    cmp %rcx, %rax
    jb 22f
    cmpl $1, MB_STATE(%rbx)
    je 22f
    lea stub_checked(%rip), %rcx
    cmp %rcx, %rax
    jae 23f
    movl $1, MB_KICK_PENDING(%rbx)
22: mov %rdx, MB_NESTED_UC(%rbx)   /* back into the interrupted code, from this frame */
    jmp stub_resume_nested
21: cmp $12, %edi                   /* a kick in the fast entry: drop it; a fault there (a */
    je 22b                          /* GS base that is not the thread's mailbox): exit */
    cmp $5, %edi                    /* a single step (a guest stepping itself with TF): go */
    jne 8f                          /* on without TF, and tell the entry to give the guest's */
    andq $~0x100, UC_EFL(%rdx)      /* flags their TF back (mailbox +184) */
    movl $1, MB_TF(%rbx)
    jmp 22b
23: movq $12, MB_SIGNO(%rbx)               /* post again: a kick, the frame of the thread's last */
    mov $-1, %r10d                  /* event, the FS/GS bases it has now */
    jmp 10b
8:  mov $60, %eax                   /* exit(1): the clear-tid word tells the kernel */
    mov $1, %edi
    syscall
    ud2
9:  ud2                             /* not on a stub altstack: a forged entry */
2:  movl $1, MB_STATE(%rbx)                 /* posted */
stub_posted:
    movabs $STUB_DOORBELL_PAGE, %rdi    /* kStubDoorbellPage: +0 counter, +4 kernel sleeping,
                                       +8 counter seen when the kernel went idle, +12 idle,
                                       +16 wake epoch (bumped when a sleeping guest
                                       thread is woken or one is started),
                                       +20 hand-off (stub_handoff) */
    mov $1, %r8d
    lock xaddl %r8d, (%rdi)
    inc %r8d                        /* r8 = the counter value of this post */
    cmpl $0, 4(%rdi)
    je 3f
    mov $202, %eax                  /* futex(doorbell, FUTEX_WAKE, 1) */
    mov $1, %esi
    mov $1, %edx
    syscall
3:  movabs $STUB_CONFIG_PAGE, %rcx    /* spin (config +8 iterations) before sleeping */
    mov 8(%rcx), %rcx
    movabs $STUB_DOORBELL_PAGE, %rdi
    mov 16(%rdi), %r9d              /* the wake epoch when the spin starts */
    cmpl $0, 20(%rdi)               /* the kernel left a sleeping thread's wake to the */
    jne stub_hand_over              /* guests: wake it and give it the CPU */
    cmp $512, %r10d                 /* this call blocked the last two times (mailbox +192, */
    jae 31f                         /* a bit per number, kept by the kernel) and at most two */
    test %rcx, %rcx                 /* other guest threads wait for the kernel (+88, the */
    jz 31f                          /* crowd at the last reply): give the CPU to another */
    cmpl $2, MB_CROWD(%rbx)               /* guest at once instead of spinning first (with more, */
    ja 31f                          /* the one with its reply is seldom the host's next */
    bt %r10d, MB_BLOCKS(%rbx)             /* pick). Never without a spin (shared CPU: sleep). */
    jc 35f
31: cmpl $2, MB_STATE(%rbx)
    je stub_replied
    test %rcx, %rcx
    jz 32f
    cmp 16(%rdi), %r9d              /* the kernel woke or started a guest thread since: */
    jne 32f                         /* it may need this CPU, so sleep */
    cmpl $0, 12(%rdi)               /* the kernel went idle after seeing this post: */
    je 34f                          /* the reply is not coming soon, sleep */
    mov 8(%rdi), %eax
    sub %r8d, %eax
    jns 32f
34: pause
    dec %rcx
    test $63, %ecx                  /* every 64 rounds, let other runnable threads of this */
    jnz 31b                         /* CPU (other guests) in: a spinner never starves them */
    jmp 36f
35: dec %rcx
36: push %rcx
    call stub_handoff
    mov $24, %eax                   /* sched_yield() */
    syscall
    pop %rcx
    movabs $STUB_DOORBELL_PAGE, %rdi
    jmp 31b
    .globl stub_wait
stub_wait:
32: call stub_handoff
    mov MB_WAKE_WORD(%rbx), %rdi             /* the word to sleep on (the kernel's: +112) and its */
    mov (%rdi), %edx                /* value before we say we sleep */
    movl $1, MB_SLEEPING(%rbx)               /* sleeping: the kernel must wake us */
    mfence
    cmpl $2, MB_STATE(%rbx)
    je 33f
    mov $202, %eax                  /* futex(word, FUTEX_WAIT, value, NULL) */
    xor %esi, %esi
    xor %r10d, %r10d
    jmp stub_sleep
33: movl $0, MB_SLEEPING(%rbx)
    jmp stub_replied

.org STUB_OFF_SIG_ACTION
/* struct kernel_sigaction for the seccomp platform's signals: nothing blocked in the handler
 * (SA_NODEFER, empty mask); see stub_nested above for what a kick landing there does. */
    .globl stub_sig_action
stub_sig_action:
    .quad stub_sig_handler
    .quad 0x4C000004            /* SA_SIGINFO | SA_ONSTACK | SA_RESTORER | SA_NODEFER */
    .quad stub_restorer
    .quad 0

.org STUB_OFF_SLEEP
/* The handler's sleep, at a fixed address. Whatever woke the thread (and whatever its other
 * registers hold), it finds its mailbox again from its stack pointer alone and goes back to
 * the wait loop: so a thread the kernel sees blocked right here (/proc/<pid>/task/<tid>/syscall:
 * futex, this return address and its frame's stack pointer) can only ever continue as the
 * mailbox and frame that the kernel writes say. That is how a previous guest's last thread is
 * verified before it serves the stub's next owner. */
    .globl stub_sleep
stub_sleep:
    syscall
    mov %rsp, %rax
    movabs $STUB_ALTSTACKS, %rcx    /* kStubAltStacks */
    sub %rcx, %rax
    shr $16, %rax
    cmp $STUB_MAX_THREADS, %rax
    jae 1f
    shl $12, %rax
    movabs $STUB_MAILBOXES, %rcx    /* kStubMailboxes */
    add %rcx, %rax
    mov %rax, %rbx
    jmp stub_wait
1:  ud2

.org STUB_OFF_HANDOFF
/* The hand-off. A stub thread sleeping for its reply must be woken with FUTEX_WAKE, and a wake
 * from the kernel's CPU to a guest CPU costs the kernel several microseconds (an IPI on these
 * virtual machines); so when guest threads are running, the kernel only bumps the sleeper's word
 * in the wake page and leaves its index + 1 at doorbell +20, and the next stub to give up its
 * CPU (post, yield or sleep) wakes it, on the guests' side. The kernel takes a hand-off back
 * that no stub took within microseconds, and wakes a sleeper itself if it still sleeps.
 * stub_handoff clobbers rax, rdx, rsi, rdi, rcx, r11. */
stub_handoff:
    movabs $STUB_DOORBELL_PAGE, %rsi    /* kStubDoorbellPage */
    cmpl $0, 20(%rsi)
    je 1f
    xor %eax, %eax
    xchg %eax, 20(%rsi)
    dec %eax
    cmp $1024, %eax                 /* kWakeWords (also catches an empty slot) */
    jae 1f
    lock incl 16(%rsi)              /* the wake epoch: spinners make way for it */
    movabs $STUB_WAKE_PAGE, %rdi    /* kStubWakePage */
    lea (%rdi,%rax,4), %rdi
    mov $202, %eax                  /* futex(word, FUTEX_WAKE, 1) */
    mov $1, %esi
    mov $1, %edx
    syscall
1:  ret
/* Right after a post, with a hand-off pending: wake that thread, then sleep if this call
 * blocked the last two times (the woken thread has the CPU) or yield to it at once. */
stub_hand_over:
    push %rcx
    call stub_handoff
    pop %rcx
    movabs $STUB_DOORBELL_PAGE, %rdi
    mov 16(%rdi), %r9d              /* the epoch after our own bump */
    cmp $512, %r10d
    jae 1f
    bt %r10d, MB_BLOCKS(%rbx)
    jc stub_wait
1:  test %rcx, %rcx
    jz stub_wait
    jmp 35b                         /* the wait loop's yield */

/* The reply (rbx = mailbox): exit, or set FS/GS as asked and resume the guest from the frame
 * (+24, ucontext; +32, the frame's start) without the host's rt_sigreturn: xrstor the FPU
 * state from the frame, load the general registers, and iretq (rip, rsp and rflags at once:
 * nothing is written below the guest's stack pointer, and a TF it sets single-steps the guest's
 * first instruction, as a return from the host would). */
stub_replied:
    cmpq $1, MB_CMD(%rbx)
    jne 40f
    mov $60, %eax                   /* exit(0) */
    xor %edi, %edi
    syscall
    ud2
40: testq $3, MB_SET_FLAGS(%rbx)
    jz 7f
    movabs $STUB_CONFIG_PAGE, %rcx
    testq $1, (%rcx)
    jz 5f
    testq $1, MB_SET_FLAGS(%rbx)
    jz 41f
    mov MB_NEW_FS(%rbx), %rax
    wrfsbase %rax
41: testq $2, MB_SET_FLAGS(%rbx)
    jz 7f
    mov MB_NEW_GS(%rbx), %rax
    wrgsbase %rax
    jmp 7f
5:  testq $1, MB_SET_FLAGS(%rbx)
    jz 6f
    mov $158, %eax                  /* arch_prctl(ARCH_SET_FS, new fs): the base it set is */
    mov $0x1002, %edi               /* the one the next event reports (+40) */
    mov MB_NEW_FS(%rbx), %rsi
    syscall
    mov %rsi, MB_FS(%rbx)
6:  testq $2, MB_SET_FLAGS(%rbx)
    jz 7f
    mov $158, %eax                  /* arch_prctl(ARCH_SET_GS, new gs) */
    mov $0x1001, %edi
    mov MB_NEW_GS(%rbx), %rsi
    syscall
    mov %rsi, MB_GS(%rbx)
7:  movq $0, MB_SET_FLAGS(%rbx)
    mov MB_RSP(%rbx), %rsp              /* the frame's start: pushes below stay clear of it, and */
    movl $0, MB_STATE(%rbx)                 /* a kick from here on nests no deeper than one frame */
    cmpl $0, MB_KICK_PENDING(%rbx)              /* a kick came while the reply was applied */
stub_checked:
    jne 24f
    mov MB_UC(%rbx), %rdx
    RESUME_FROM_RDX
24: movl $0, MB_KICK_PENDING(%rbx)
    jmp 23b

.org STUB_OFF_FAST_SYSCALL
/* The fast system call entry: no host trap. A trampoline that stands in for a guest's `syscall`
 * instruction (the kernel rewrites hot call sites, as gVisor's systrap does) jumps here through
 * the pointer at mailbox +152 (`jmp *%gs:MB_FAST_ENTRY`: the kernel keeps each guest thread's GS base at
 * its mailbox while the guest has none of its own; the entry finds the mailbox's address at
 * %gs:MB_SELF, so it needs no rdgsbase) with rax = the number and rcx = the return
 * address, every other register as the guest had it (r11, like rcx, is the instruction's to
 * clobber). It builds on the thread's altstack the frame the host would have delivered for the
 * trapped call (SIGSYS from seccomp: registers, siginfo, an XSAVE image with the host's
 * software words, from config +48/+56) and enters the handler as the host would. The frame
 * lies 8 KiB below the altstack's top: a kick that lands here before the frame is complete gets
 * the host's frame at the top, clear of it, and is dropped (the thread posts at once).
 * Scratch: mailbox +160..+183; +184 is set when a single step of a guest that runs with TF
 * trapped in here (the trap is dropped, TF cleared, and given back to the guest's flags).
 * Nothing is written below the guest's stack pointer. */
    .globl stub_fast_syscall
stub_fast_syscall:
    mov %rsp, %r11                  /* the guest's stack pointer */
    mov %gs:MB_SELF, %rsp               /* the mailbox (checked below) */
    lea 184(%rsp), %rsp
    pushfq                          /* mailbox +176: the guest's rflags */
    push %rax                       /* +168: the number */
    push %rdx                       /* +160 */
    mov %rsp, %rax
    movabs $(STUB_MAILBOXES + MB_FAST_SCRATCH), %rdx    /* kStubMailboxes + 160 */
    sub %rdx, %rax
    test $0xfff, %eax
    jnz 9f
    shr $12, %rax
    cmp $STUB_MAX_THREADS, %rax                /* kStubMaxThreads */
    jae 9f
    shl $16, %rax
    movabs $(STUB_ALTSTACKS + STUB_ALTSTACK_SIZE), %rdx    /* kStubAltStacks + 64 KiB: this slot's altstack top */
    add %rax, %rdx
    movabs $STUB_CONFIG_PAGE, %rax    /* kStubConfigPage +48: the host's XSAVE image size */
    mov CFG_XSAVE_SIZE(%rax), %eax
    test %eax, %eax
    jz 9f
    sub $8192 + 4, %rdx
    sub %rax, %rdx
    and $-64, %rdx                  /* rdx = the frame's XSAVE image */
    movl $0x46505845, (%rdx,%rax)   /* FP_XSTATE_MAGIC2 right after it */
    /* ucontext at rdx - 432 (gregs from +40), siginfo at rdx - 128 */
    mov %r8, UC_R8-FAST_UC_BELOW(%rdx)
    mov %r9, UC_R9-FAST_UC_BELOW(%rdx)
    mov %r10, UC_R10-FAST_UC_BELOW(%rdx)
    mov %r12, UC_R12-FAST_UC_BELOW(%rdx)
    mov %r13, UC_R13-FAST_UC_BELOW(%rdx)
    mov %r14, UC_R14-FAST_UC_BELOW(%rdx)
    mov %r15, UC_R15-FAST_UC_BELOW(%rdx)
    mov %rdi, UC_RDI-FAST_UC_BELOW(%rdx)
    mov %rsi, UC_RSI-FAST_UC_BELOW(%rdx)
    mov %rbp, UC_RBP-FAST_UC_BELOW(%rdx)
    mov %rbx, UC_RBX-FAST_UC_BELOW(%rdx)
    mov %rcx, UC_RCX-FAST_UC_BELOW(%rdx) /* rcx: the return address, as `syscall` leaves it */
    mov %r11, UC_RSP-FAST_UC_BELOW(%rdx) /* rsp */
    mov %rcx, UC_RIP-FAST_UC_BELOW(%rdx) /* rip */
    mov %rcx, SI_ADDR-FAST_SI_BELOW(%rdx) /* si_call_addr */
    mov %rdx, %rbx
    pop %rax
    mov %rax, UC_RDX-FAST_UC_BELOW(%rbx) /* rdx */
    pop %rax
    mov %rax, UC_RAX-FAST_UC_BELOW(%rbx) /* rax: the number */
    mov %eax, SI_SYSCALL-FAST_SI_BELOW(%rbx) /* si_syscall */
    movl $0xc000003e, SI_ARCH-FAST_SI_BELOW(%rbx) /* si_arch: AUDIT_ARCH_X86_64 */
    movq $31, SI_SIGNO-FAST_SI_BELOW(%rbx) /* si_signo SIGSYS, si_errno 0 */
    movq $1, SI_CODE-FAST_SI_BELOW(%rbx) /* si_code SYS_SECCOMP */
    pop %rax                        /* rsp = mailbox +184: the single-step word (above) */
    cmpl $0, (%rsp)
    je 3f
    movl $0, (%rsp)
    or $0x100, %rax                 /* TF */
3:  mov %rax, UC_EFL-FAST_UC_BELOW(%rbx) /* eflags */
    mov %rax, UC_R11-FAST_UC_BELOW(%rbx) /* r11: rflags, as `syscall` leaves it */
    xor %eax, %eax
    movq $7, UC_FLAGS-FAST_UC_BELOW(%rbx) /* uc_flags: FP_XSTATE, SIGCONTEXT_SS, STRICT_RESTORE_SS */
    mov %rax, UC_LINK-FAST_UC_BELOW(%rbx) /* uc_link */
    mov %rax, UC_STACK-FAST_UC_BELOW(%rbx) /* uc_stack (the kernel sets it) */
    mov %rax, UC_STACK+8-FAST_UC_BELOW(%rbx)
    mov %rax, UC_STACK+16-FAST_UC_BELOW(%rbx)
    movabs $0x002b000000000033, %rcx
    mov %rcx, UC_CSGSFS-FAST_UC_BELOW(%rbx) /* cs 0x33, ss 0x2b */
    mov %rax, UC_ERR-FAST_UC_BELOW(%rbx) /* err */
    mov %rax, UC_TRAPNO-FAST_UC_BELOW(%rbx) /* trapno */
    mov %rax, UC_OLDMASK-FAST_UC_BELOW(%rbx) /* oldmask */
    mov %rax, UC_CR2-FAST_UC_BELOW(%rbx) /* cr2 */
    mov %rbx, UC_FPREGS-FAST_UC_BELOW(%rbx) /* fpregs */
    lea UC_RESERVED-FAST_UC_BELOW(%rbx), %rdi /* reserved words and the signal mask: zero */
    mov $9, %ecx
1:  mov %rax, (%rdi)
    add $8, %rdi
    dec %ecx
    jnz 1b
    lea XSAVE_HEADER_REST(%rbx), %rdi /* the XSAVE header past XSTATE_BV: zero (xsave writes */
    mov $7, %ecx                    /* only XSTATE_BV) */
2:  mov %rax, (%rdi)
    add $8, %rdi
    dec %ecx
    jnz 2b
    movabs $STUB_CONFIG_PAGE, %rcx
    mov CFG_XFEATURES(%rcx), %eax   /* the host's xfeatures */
    mov CFG_XFEATURES+4(%rcx), %edx
    xsave64 (%rbx)
    movl $0x46505853, FP_SW_MAGIC1(%rbx) /* FP_XSTATE_MAGIC1 */
    mov CFG_XSAVE_SIZE(%rcx), %eax
    mov %eax, FP_SW_XSTATE_SIZE(%rbx) /* xstate_size */
    add $4, %eax
    mov %eax, FP_SW_EXTENDED_SIZE(%rbx) /* extended_size */
    mov CFG_XFEATURES(%rcx), %rax
    mov %rax, FP_SW_XFEATURES(%rbx) /* xfeatures */
    xor %eax, %eax
    mov %eax, FP_SW_PADDING(%rbx)
    mov %rax, FP_SW_PADDING+4(%rbx)
    mov %rax, FP_SW_PADDING+12(%rbx)
    mov %rax, FP_SW_PADDING+20(%rbx)
    mov $31, %edi
    lea SI_SIGNO-FAST_SI_BELOW(%rbx), %rsi
    lea UC_FLAGS-FAST_UC_BELOW(%rbx), %rdx
    lea -FAST_FRAME_BELOW(%rbx), %rsp /* the frame's start, as the host would leave it */
    jmp stub_sig_handler
9:  ud2                             /* %gs:256 not a mailbox (or no XSAVE size yet) */
stub_fast_end:

/* Back into the code a nested event interrupted (rbx = mailbox; +120 = that event's ucontext):
 * the stack pointer to that frame's start, then the context from the frame, as the guest's
 * way back does. A kick that lands in here starts it over (stub_nested). */
stub_resume_nested:
    mov MB_NESTED_UC(%rbx), %rdx
    lea -8(%rdx), %rsp
    RESUME_FROM_RDX
stub_resume_nested_end:

    .section .note.GNU-stack, "", @progbits
