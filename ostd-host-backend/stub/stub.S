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
    .section .text, "ax"
    .globl _start
_start:
    int3
    jmp _start

.org 0x10
/* One host system call: rax = number, rdi, rsi, rdx, r10, r8, r9 = arguments. */
    .globl stub_syscall
stub_syscall:
    syscall
    int3
    jmp stub_syscall

.org 0x20
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
    add $56, %r12
    dec %r13
    jmp 1b
2:  int3
    jmp 2b
3:  xor %eax, %eax
    int3
    jmp 3b

.org 0x80
/* SIGSEGV handler (SA_SIGINFO|SA_ONSTACK|SA_NODEFER, on a per-thread altstack): reports the
 * page-fault error code and vector the kernel cannot get from siginfo, then stops. The kernel
 * never returns through the signal frame; it restores the guest registers it saved itself.
 * rdi = signo, rsi = siginfo_t*, rdx = ucontext_t*. Out: rax = err, rcx = trapno, rbx = si_addr. */
    .globl stub_segv_handler
stub_segv_handler:
    mov 16(%rsi), %rbx
    mov 192(%rdx), %rax
    mov 200(%rdx), %rcx
    int3
    jmp stub_segv_handler

.org 0xa0
    .globl stub_restorer
stub_restorer:
    int3
    jmp stub_restorer

.org 0xc0
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
 * mailbox page, rings the doorbell, sleeps on a futex until the kernel replies, and resumes the
 * guest with rt_sigreturn from the (kernel-edited) signal frame. */

.org 0x100
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
    movabs $0x7ff840001000, %rsi    /* config +16: CPU mask size (0: keep the kernel's CPU) */
    mov 16(%rsi), %rsi
    test %rsi, %rsi
    jz 2f
    mov $203, %eax              /* sched_setaffinity(0, size, config + 512) */
    xor %edi, %edi
    movabs $0x7ff840001200, %rdx
    syscall
2:  mov $317, %eax              /* seccomp(SECCOMP_SET_MODE_FILTER, 0, r13) */
    mov $1, %edi
    xor %esi, %esi
    mov %r13, %rdx
    syscall
    test %rax, %rax
    jnz 9f
.org 0x180, 0x90
    .globl stub_park
stub_park:
    ud2
9:  mov $60, %eax               /* exit(1): the clear-tid word tells the kernel */
    mov $1, %edi
    syscall
    ud2

.org 0x200
/* rdi = signo, rsi = siginfo_t*, rdx = ucontext_t*, rsp = the frame (return address slot).
 * 96 u32 sleeping (set while in FUTEX_WAIT: the kernel wakes the futex only then).
 * Mailbox (4 KiB per thread, slot = (rsp - ALTSTACKS) / 64 KiB):
 *   0 u32 state (0 running, 1 posted, 2 replied)   4 u32 clear-tid word
 *   8 signo  16 siginfo*  24 ucontext*  32 frame rsp  40 fs base  48 gs base
 *   56 command (0 resume, 1 exit)  64 set flags (1 fs, 2 gs)  72 new fs  80 new gs
 *   88 u32 crowd (the kernel, at the reply: guest threads whose event it holds)
 *   192..255 a bit per system call number: it blocked the last two times (the kernel's hint) */
    .globl stub_sig_handler
stub_sig_handler:
    mov %rsp, %rax
    movabs $0x7ff880000000, %rcx    /* kStubAltStacks */
    sub %rcx, %rax
    shr $16, %rax
    cmp $16384, %rax
    jae 9f
    shl $12, %rax
    movabs $0x7ff8c0000000, %rcx    /* kStubMailboxes */
    add %rcx, %rax
    mov %rax, %rbx
    mov %rdi, 8(%rbx)
    mov %rsi, 16(%rbx)
    mov %rdx, 24(%rbx)
    mov %rsp, 32(%rbx)
    mov $-1, %r10d                  /* r10 = the system call's number (SIGSYS), else -1 */
    cmp $31, %edi
    jne 0f
    movl 24(%rsi), %r10d            /* siginfo si_syscall */
0:
    movabs $0x7ff840001000, %rcx    /* kStubConfigPage: flags bit 0 = FSGSBASE usable */
    testq $1, (%rcx)
    jz 1f
    rdfsbase %rax
    mov %rax, 40(%rbx)
    rdgsbase %rax
    mov %rax, 48(%rbx)
    jmp 2f
1:  mov $158, %eax                  /* arch_prctl(ARCH_GET_FS / ARCH_GET_GS, &mailbox) */
    mov $0x1003, %edi
    lea 40(%rbx), %rsi
    syscall
    mov $158, %eax
    mov $0x1004, %edi
    lea 48(%rbx), %rsi
    syscall
2:  movl $1, (%rbx)                 /* posted */
    movabs $0x7ff840002000, %rdi    /* kStubDoorbellPage: +0 counter, +4 kernel sleeping,
                                       +8 counter seen when the kernel went idle, +12 idle,
                                       +16 wake epoch (bumped when the kernel wakes a
                                       sleeping guest thread or starts one) */
    mov $1, %r8d
    lock xaddl %r8d, (%rdi)
    inc %r8d                        /* r8 = the counter value of this post */
    cmpl $0, 4(%rdi)
    je 3f
    mov $202, %eax                  /* futex(doorbell, FUTEX_WAKE, 1) */
    mov $1, %esi
    mov $1, %edx
    syscall
3:  movabs $0x7ff840001000, %rcx    /* spin (config +8 iterations) before sleeping */
    mov 8(%rcx), %rcx
    movabs $0x7ff840002000, %rdi
    mov 16(%rdi), %r9d              /* the wake epoch when the spin starts */
    cmp $512, %r10d                 /* this call blocked the last two times (mailbox +192, */
    jae 31f                         /* a bit per number, kept by the kernel) and at most two */
    test %rcx, %rcx                 /* other guest threads wait for the kernel (+88, the */
    jz 31f                          /* crowd at the last reply): give the CPU to another */
    cmpl $2, 88(%rbx)               /* guest at once instead of spinning first (with more, */
    ja 31f                          /* the one with its reply is seldom the host's next */
    bt %r10d, 192(%rbx)             /* pick). Never without a spin (shared CPU: sleep). */
    jc 35f
31: cmpl $2, (%rbx)
    je 4f
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
    mov $24, %eax                   /* sched_yield() */
    syscall
    pop %rcx
    movabs $0x7ff840002000, %rdi
    jmp 31b
    .globl stub_wait
stub_wait:
32: movl $1, 96(%rbx)               /* sleeping: the kernel must wake us */
    mfence
    cmpl $2, (%rbx)
    je 33f
    mov $202, %eax                  /* futex(&state, FUTEX_WAIT, 1, NULL) */
    mov %rbx, %rdi
    xor %esi, %esi
    mov $1, %edx
    xor %r10d, %r10d
    jmp stub_sleep
33: movl $0, 96(%rbx)
4:  cmpq $1, 56(%rbx)
    je 8f
    testq $3, 64(%rbx)
    jz 7f
    movabs $0x7ff840001000, %rcx
    testq $1, (%rcx)
    jz 5f
    testq $1, 64(%rbx)
    jz 41f
    mov 72(%rbx), %rax
    wrfsbase %rax
41: testq $2, 64(%rbx)
    jz 7f
    mov 80(%rbx), %rax
    wrgsbase %rax
    jmp 7f
5:  testq $1, 64(%rbx)
    jz 6f
    mov $158, %eax                  /* arch_prctl(ARCH_SET_FS, new fs) */
    mov $0x1002, %edi
    mov 72(%rbx), %rsi
    syscall
6:  testq $2, 64(%rbx)
    jz 7f
    mov $158, %eax                  /* arch_prctl(ARCH_SET_GS, new gs) */
    mov $0x1001, %edi
    mov 80(%rbx), %rsi
    syscall
7:  movq $0, 64(%rbx)
    movl $0, (%rbx)                 /* running */
    add $8, %rsp                    /* rsp = &uc, as rt_sigreturn expects */
    mov $15, %eax
    syscall
    ud2
8:  mov $60, %eax                   /* exit(0) */
    xor %edi, %edi
    syscall
    ud2
9:  ud2                             /* not on a stub altstack: a forged entry */

.org 0x480
/* struct kernel_sigaction for the seccomp platform's signals: every signal blocked in the
 * handler, so events never nest. */
    .globl stub_sig_action
stub_sig_action:
    .quad stub_sig_handler
    .quad 0x0C000004            /* SA_SIGINFO | SA_ONSTACK | SA_RESTORER */
    .quad stub_restorer
    .quad 0xffffffffffffffff

.org 0x4c0
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
    movabs $0x7ff880000000, %rcx    /* kStubAltStacks */
    sub %rcx, %rax
    shr $16, %rax
    cmp $16384, %rax
    jae 1f
    shl $12, %rax
    movabs $0x7ff8c0000000, %rcx    /* kStubMailboxes */
    add %rcx, %rax
    mov %rax, %rbx
    jmp stub_wait
1:  ud2

    .section .note.GNU-stack, "", @progbits
