// Trap, system-call and user-mode entry, and kernel context switches (x86-64, one CPU).
//
// User mode runs through enter_user(GeneralRegs*): it saves the kernel's callee-saved registers,
// records the kernel stack pointer (g_kernel_rsp, also TSS.rsp0) and irets to user mode. Every
// way back — `syscall`, an exception or an interrupt taken in user mode — stores the user
// registers into that GeneralRegs (the thread's own context: no copy either way) and returns
// from enter_user with g_trap (vector, error code, CR2) telling why (vector 0x100 for a system
// call). Traps taken in kernel mode go to trap_from_kernel(KernelFrame*).
//
// GeneralRegs offsets (ostd/user_mode.h, checked in user.cpp): rax 0, rbx 8, rcx 16, rdx 24,
// rsi 32, rdi 40, rbp 48, rsp 56, r8 64 ... r15 120, rip 128, rflags 136.

#define USER_CS 0x23
#define USER_SS 0x1b

// Entering user mode (both ways): saves the kernel's callee-saved registers and the GeneralRegs
// (%rdi) on the kernel stack and records that stack in g_kernel_rsp and TSS.rsp0, where
// interrupts from user mode land. Leaves interrupts off.
.macro ENTER_USER_PROLOGUE
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushq %rdi
    cli
    movq %rsp, g_kernel_rsp(%rip)
    movq %rsp, x86_tss + 4(%rip)
.endm

// Loads the user registers from the GeneralRegs at %rdi, except rcx, r11 (the return path
// decides), rsp and rdi itself.
.macro LOAD_USER_REGS
    movq 0(%rdi), %rax
    movq 8(%rdi), %rbx
    movq 24(%rdi), %rdx
    movq 32(%rdi), %rsi
    movq 48(%rdi), %rbp
    movq 64(%rdi), %r8
    movq 72(%rdi), %r9
    movq 80(%rdi), %r10
    movq 96(%rdi), %r12
    movq 104(%rdi), %r13
    movq 112(%rdi), %r14
    movq 120(%rdi), %r15
.endm

// Stores every user register but rax and rsp into the GeneralRegs at %rax.
.macro SAVE_USER_REGS
    movq %rbx, 8(%rax)
    movq %rcx, 16(%rax)
    movq %rdx, 24(%rax)
    movq %rsi, 32(%rax)
    movq %rdi, 40(%rax)
    movq %rbp, 48(%rax)
    movq %r8, 64(%rax)
    movq %r9, 72(%rax)
    movq %r10, 80(%rax)
    movq %r11, 88(%rax)
    movq %r12, 96(%rax)
    movq %r13, 104(%rax)
    movq %r14, 112(%rax)
    movq %r15, 120(%rax)
.endm

    .text

    .globl enter_user
enter_user:
    ENTER_USER_PROLOGUE
    pushq $USER_SS
    pushq 56(%rdi)
    pushq 136(%rdi)
    pushq $USER_CS
    pushq 128(%rdi)
    LOAD_USER_REGS
    movq 16(%rdi), %rcx
    movq 88(%rdi), %r11
    movq 40(%rdi), %rdi
    iretq

// The fast way back after a system call, when rcx == rip and r11 == rflags (as the syscall
// instruction left them) and rip is canonical below the user top: sysretq instead of iretq.
    .globl enter_user_sysret
enter_user_sysret:
    ENTER_USER_PROLOGUE
    LOAD_USER_REGS
    movq 128(%rdi), %rcx
    movq 136(%rdi), %r11
    movq 56(%rdi), %rsp              // the user stack: nothing may trap from here (NMI uses IST)
    movq 40(%rdi), %rdi
    sysretq

// The kernel resumes here after any exit from user mode: back to enter_user's caller, with
// interrupts off (g_trap is shared by all threads until the caller has read it).
return_to_kernel:
    movq g_kernel_rsp(%rip), %rsp
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret                              // interrupts still off: the caller reads g_trap first

    .globl syscall_entry
syscall_entry:
    // IF, DF, TF and AC are clear (SFMASK). rcx = user rip, r11 = user rflags.
    movq %rsp, g_user_rsp_scratch(%rip)
    movq g_kernel_rsp(%rip), %rsp
    pushq %rax
    movq 8(%rsp), %rax               // the GeneralRegs
    SAVE_USER_REGS
    movq %rcx, 128(%rax)
    movq %r11, 136(%rax)
    movq g_user_rsp_scratch(%rip), %rcx
    movq %rcx, 56(%rax)
    popq %rcx
    movq %rcx, 0(%rax)
    movq $0x100, g_trap(%rip)
    jmp return_to_kernel

// Interrupt and exception vectors: each pushes an error code (0 where the CPU does not) and
// its vector number, then joins trap_common.
.macro VECTOR n
    .p2align 4
vector_\n:
    .if (\n == 8) || (\n == 10) || (\n == 11) || (\n == 12) || (\n == 13) || (\n == 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
    .else
    pushq $0
    .endif
    pushq $\n
    jmp trap_common
.endm

    .p2align 4
    .globl x86_vectors_start
x86_vectors_start:
.altmacro
.set i, 0
.rept 256
    VECTOR %i
    .set i, i + 1
.endr

// Stack: vector 0, error 8, rip 16, cs 24, rflags 32, rsp 40, ss 48.
trap_common:
    testb $3, 24(%rsp)
    jz from_kernel
    pushq %rax
    movq g_kernel_rsp(%rip), %rax
    movq (%rax), %rax                // the GeneralRegs
    SAVE_USER_REGS
    popq %rbx
    movq %rbx, 0(%rax)
    movq 0(%rsp), %rbx
    movq %rbx, g_trap(%rip)
    movq 8(%rsp), %rbx
    movq %rbx, g_trap + 8(%rip)
    movq 16(%rsp), %rbx
    movq %rbx, 128(%rax)
    movq 32(%rsp), %rbx
    movq %rbx, 136(%rax)
    movq 40(%rsp), %rbx
    movq %rbx, 56(%rax)
    movq %cr2, %rbx
    movq %rbx, g_trap + 16(%rip)
    // The CPU keeps the user's DF and AC on an interrupt or exception: the kernel's code
    // assumes DF clear (string instructions would run backwards, below their buffers) and AC
    // would open SMAP. Flags = just the reserved bit (IF stays clear until the caller's turn).
    pushq $2
    popfq
    jmp return_to_kernel

from_kernel:
    // KernelFrame: rax rbx rcx rdx rsi rdi rbp r8..r15, vector, error, rip, cs, rflags, rsp, ss
    pushq %r15
    pushq %r14
    pushq %r13
    pushq %r12
    pushq %r11
    pushq %r10
    pushq %r9
    pushq %r8
    pushq %rbp
    pushq %rdi
    pushq %rsi
    pushq %rdx
    pushq %rcx
    pushq %rbx
    pushq %rax
    cld
    movq %rsp, %rdi
    call trap_from_kernel
    popq %rax
    popq %rbx
    popq %rcx
    popq %rdx
    popq %rsi
    popq %rdi
    popq %rbp
    popq %r8
    popq %r9
    popq %r10
    popq %r11
    popq %r12
    popq %r13
    popq %r14
    popq %r15
    addq $16, %rsp
    iretq

// void x86_switch(u64* save_rsp, u64 new_rsp)
    .globl x86_switch
x86_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret

// u64 x86_user_copy(void* dst, const void* src, u64 n): a copy that may touch user pages (SMAP's
// AC flag set around it, when SMAP is on). Returns 0, or 1 when a page fault stopped it:
// trap_from_kernel resumes a fault anywhere in [x86_user_copy, x86_user_copy_end) at
// x86_user_copy_fault. Eight bytes per step, then the tail bytewise (QEMU's TCG runs a
// rep-string instruction one element per step, so rep movsb would be eight times the steps).
    .globl x86_user_copy, x86_user_copy_end, x86_user_copy_fault
x86_user_copy:
    cmpb $0, x86_smap(%rip)
    je 1f
    stac
1:  movq %rdx, %rcx
    shrq $3, %rcx
    andl $7, %edx
    rep movsq
    testq %rdx, %rdx
    jz 3f
2:  movb (%rsi), %al
    movb %al, (%rdi)
    incq %rsi
    incq %rdi
    decq %rdx
    jnz 2b
3:  xorl %eax, %eax
x86_user_copy_end:
    cmpb $0, x86_smap(%rip)
    je 4f
    clac
4:  ret
x86_user_copy_fault:
    movl $1, %eax
    jmp x86_user_copy_end

// First code of a new kernel task: r12 = entry function.
    .globl x86_task_start
x86_task_start:
    sti                              // kernel code always runs with interrupts on (the mask is virtual)
    andq $-16, %rsp
    xorl %ebp, %ebp
    call *%r12
    ud2

    .bss
    .p2align 3
    .globl g_kernel_rsp
g_kernel_rsp: .quad 0
g_user_rsp_scratch: .quad 0
    .globl g_trap
g_trap: .quad 0, 0, 0
