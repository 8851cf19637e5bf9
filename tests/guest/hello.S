/* A minimal static guest with no libc: prints a line with write(2) and exits 0. */
    .text
    .globl _start
_start:
    mov $1, %edi
    lea msg(%rip), %rsi
    mov $len, %edx
    mov $1, %eax
    syscall
    xor %edi, %edi
    mov $60, %eax
    syscall
    .section .rodata
msg:
    .ascii "hello from a guest\n"
    len = . - msg
    .section .note.GNU-stack, "", @progbits
