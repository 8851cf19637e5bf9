/* Spins forever in user mode (for preemption and teardown tests). */
    .text
    .globl _start
_start:
    jmp _start
    .section .note.GNU-stack, "", @progbits
