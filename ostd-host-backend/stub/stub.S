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

    .section .note.GNU-stack, "", @progbits
