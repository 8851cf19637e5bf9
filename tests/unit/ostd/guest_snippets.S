/* Position-independent guest code snippets for the user-mode tests. Each is copied into a
 * guest page and run there; guest_X_end marks its end. */
#include "../../../ostd-host-backend/src/stub_layout.h" /* the stub's entry points, for attacks */
    .text
    .globl guest_syscall, guest_syscall_end
guest_syscall:
    mov $39, %eax              /* getpid, with six recognisable arguments */
    mov $11, %edi
    mov $22, %esi
    mov $33, %edx
    mov $44, %r10d
    mov $55, %r8d
    mov $66, %r9d
    syscall
    mov %rax, %rdi             /* echo the result back as exit's argument */
    mov $60, %eax
    syscall
    ud2
guest_syscall_end:

    .globl guest_read_fault, guest_read_fault_end
guest_read_fault:
    mov $0xdead000, %rax
    mov (%rax), %rbx
    ud2
guest_read_fault_end:

    .globl guest_write_fault, guest_write_fault_end
guest_write_fault:
    mov %rdi, %rax
    movq $7, (%rax)
    mov $60, %eax
    syscall
guest_write_fault_end:

    .globl guest_exec_fault, guest_exec_fault_end
guest_exec_fault:
    jmp *%rdi
guest_exec_fault_end:

    .globl guest_loop, guest_loop_end
guest_loop:
    inc %rbx
    jmp guest_loop
guest_loop_end:

    .globl guest_traps, guest_traps_end
guest_traps:                   /* rdi selects: 0 ud2, 1 int3, 2 div by zero, 3 hlt (#GP) */
    cmp $0, %rdi
    jne 1f
    ud2
1:  cmp $1, %rdi
    jne 2f
    int3
2:  cmp $2, %rdi
    jne 3f
    xor %ecx, %ecx
    div %ecx
3:  hlt
guest_traps_end:

    .globl guest_escape, guest_escape_end
guest_escape:                  /* try to create a host file three ways, then exit */
    lea path(%rip), %rdi
    mov $0644, %esi
    mov $85, %eax              /* creat (x86-64) via syscall */
    syscall
    lea path(%rip), %rbx
    mov $0644, %ecx
    mov $8, %eax               /* creat (i386) via int 0x80 */
    int $0x80
    lea path(%rip), %rbx
    mov $0644, %ecx
    mov $8, %eax               /* creat (i386) via sysenter */
    sysenter
    .globl guest_escape_open
guest_escape_open:
    lea path(%rip), %rdi
    mov $0101, %esi            /* O_WRONLY|O_CREAT */
    mov $0644, %edx
    mov $2, %eax               /* open */
    syscall
    mov $60, %eax
    syscall
path:
    .asciz "/tmp/umk-escape-test-file"
guest_escape_end:

    .globl guest_fpu, guest_fpu_end
guest_fpu:
    movq %rdi, %xmm0           /* xmm0 low = rdi, then report */
    mov $1000, %eax
    syscall
    movq %xmm1, %rdi           /* the kernel may have changed xmm1 */
    mov $1001, %eax
    syscall
    ud2
guest_fpu_end:

    .globl guest_tls, guest_tls_end
guest_tls:
    mov %fs:0, %rdi
    mov $1002, %eax
    syscall
    ud2
guest_tls_end:

    .globl guest_spin_syscalls, guest_spin_syscalls_end
guest_spin_syscalls:           /* getppid forever: for the round-trip benchmark (rsi != 0:
                                  through the fast entry at %gs:rsi) */
    mov $110, %eax
    test %rsi, %rsi
    jz 1f
    lea guest_spin_syscalls(%rip), %rcx
    jmp *%gs:(%rsi)
1:  syscall
    jmp guest_spin_syscalls
guest_spin_syscalls_end:

    .globl guest_checked_syscalls, guest_checked_syscalls_end
guest_checked_syscalls:        /* rdi = n: getppid n times, the kernel answering call k with k;
                                  after each, checks the answer, the callee-saved registers,
                                  xmm0/xmm15 and both ends of the red zone below rsp; exit(0)
                                  if all held, else exit(1: answer, 2: register, 3: red zone,
                                  4: xmm) at the first that did not. rsi != 0: each call goes
                                  through the fast entry at %gs:rsi instead of `syscall` */
    mov %rdi, %r12
    xor %r13d, %r13d
    movabs $0x5151a5a5c3c30f0f, %rbx
    mov %rbx, %rbp
    mov %rbx, %r14
    mov %rbx, %r15
    movq %rbx, %xmm0
    movq %rbx, %xmm15
    mov %rbx, -8(%rsp)
    mov %rbx, -128(%rsp)
1:  mov $110, %eax
    test %rsi, %rsi
    jz 7f
    lea 8f(%rip), %rcx
    jmp *%gs:(%rsi)
7:  syscall
8:  inc %r13
    cmp %r13, %rax
    jne 2f
    movabs $0x5151a5a5c3c30f0f, %rdx
    cmp %rdx, %rbx
    jne 3f
    cmp %rdx, %rbp
    jne 3f
    cmp %rdx, %r14
    jne 3f
    cmp %rdx, %r15
    jne 3f
    cmp %rdx, -8(%rsp)
    jne 4f
    cmp %rdx, -128(%rsp)
    jne 4f
    movq %xmm0, %rax
    cmp %rdx, %rax
    jne 5f
    movq %xmm15, %rax
    cmp %rdx, %rax
    jne 5f
    imul $37, %r13d, %ecx           /* some work of varying length before the next call */
    and $16383, %ecx
6:  dec %ecx
    jns 6b
    cmp %r13, %r12
    jne 1b
    xor %edi, %edi
    jmp 9f
2:  mov $1, %edi
    jmp 9f
3:  mov $2, %edi
    jmp 9f
4:  mov $3, %edi
    jmp 9f
5:  mov $4, %edi
9:  mov $60, %eax
    syscall
    ud2
guest_checked_syscalls_end:

    .globl guest_dirty, guest_dirty_end
guest_dirty:                   /* every XMM register and callee-saved register = rdi, then exit */
    movq %rdi, %xmm0
    pshufd $0x44, %xmm0, %xmm0
    movdqa %xmm0, %xmm1
    movdqa %xmm0, %xmm2
    movdqa %xmm0, %xmm3
    movdqa %xmm0, %xmm4
    movdqa %xmm0, %xmm5
    movdqa %xmm0, %xmm6
    movdqa %xmm0, %xmm7
    movdqa %xmm0, %xmm8
    movdqa %xmm0, %xmm9
    movdqa %xmm0, %xmm10
    movdqa %xmm0, %xmm11
    movdqa %xmm0, %xmm12
    movdqa %xmm0, %xmm13
    movdqa %xmm0, %xmm14
    movdqa %xmm0, %xmm15
    ldmxcsr mxcsr_dirty(%rip)
    mov %rdi, %rbx
    mov %rdi, %rbp
    mov %rdi, %r12
    mov %rdi, %r13
    mov %rdi, %r14
    mov %rdi, %r15
    mov $60, %eax
    syscall
    ud2
mxcsr_dirty:
    .long 0x7f80               /* every exception masked, round toward zero (default 0x1f80) */
guest_dirty_end:

    .globl guest_report_sse, guest_report_sse_end
guest_report_sse:              /* reports xmm0, xmm15 (low halves), mxcsr and rbx, r15 */
    movq %xmm0, %rdi
    movq %xmm15, %rsi
    stmxcsr -8(%rsp)
    mov -8(%rsp), %edx
    mov %rbx, %r10
    mov %r15, %r8
    mov $1004, %eax
    syscall
    ud2
guest_report_sse_end:

    .globl guest_victim, guest_victim_attacker, guest_victim_loop, guest_victim_end
guest_victim:                  /* a system call the kernel leaves unanswered */
    mov $39, %eax
    syscall
guest_victim_loop:             /* reached only if another thread resumes it */
    jmp guest_victim_loop
guest_victim_attacker:         /* rdi = the victim's mailbox, rsi = where it is to resume */
    mov 24(%rdi), %rax         /* its frame's ucontext */
    mov %rsi, 168(%rax)        /* uc_mcontext rip */
    movq $0, 56(%rdi)          /* command: resume */
    movl $2, (%rdi)            /* state: replied */
    mov 112(%rdi), %rdi        /* the word it sleeps on */
    mov $202, %eax             /* futex(word, FUTEX_WAKE, 1), from the stub's own futex call */
    mov $1, %esi
    mov $1, %edx
    movabs $(STUB_BASE + STUB_OFF_SLEEP), %rcx
    jmp *%rcx
guest_victim_end:

    .section .note.GNU-stack, "", @progbits
