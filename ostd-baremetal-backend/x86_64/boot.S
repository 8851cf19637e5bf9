// PVH entry (QEMU -kernel with an ELF note XEN_ELFNOTE_PHYS32_ENTRY): 32-bit protected mode,
// paging off, %ebx = physical address of struct hvm_start_info. Builds boot page tables
// (identity and direct map of the first GiB, the kernel at -2 GiB), enters long mode and jumps
// to kernel_entry64 in the higher half with the start-info address in %rdi.
#define KERNEL_VMA 0xffffffff80000000

    .section .note.pvh, "a", @note
    .p2align 2
    .long 4             // namesz
    .long 4             // descsz
    .long 18            // XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .long pvh_start32

    .section .boot.text, "ax", @progbits
    .code32
    .globl pvh_start32
pvh_start32:
    cli
    cld
    movl %ebx, %edi
    lgdt boot_gdt_ptr

    // PML4[0] and PML4[256] -> PDPT_low; PDPT_low[0] -> PD (2 MiB pages over the first GiB).
    // PML4[511] -> PDPT_high; PDPT_high[510] -> the same PD.
    movl $boot_pdpt_low, %eax
    orl $0x3, %eax
    movl %eax, boot_pml4
    movl %eax, boot_pml4 + 256 * 8
    movl $boot_pdpt_high, %eax
    orl $0x3, %eax
    movl %eax, boot_pml4 + 511 * 8
    movl $boot_pd, %eax
    orl $0x3, %eax
    movl %eax, boot_pdpt_low
    movl %eax, boot_pdpt_high + 510 * 8
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax              // present, writable, 2 MiB
    movl %eax, boot_pd(, %ecx, 8)
    movl $0, boot_pd + 4(, %ecx, 8)
    incl %ecx
    cmpl $512, %ecx
    jne 1b

    movl %cr4, %eax
    orl $((1 << 5) | (1 << 9) | (1 << 10)), %eax   // PAE, OSFXSR, OSXMMEXCPT
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx       // EFER
    rdmsr
    orl $((1 << 0) | (1 << 8) | (1 << 11)), %eax    // SCE, LME, NXE
    wrmsr
    movl %cr0, %eax
    andl $~(1 << 2), %eax        // no EM: the FPU is real
    orl $((1 << 31) | (1 << 16) | (1 << 1) | (1 << 0)), %eax   // PG, WP, MP, PE
    movl %eax, %cr0
    ljmp $0x08, $start64

    .code64
start64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movabsq $kernel_entry64, %rax
    jmp *%rax

    .section .boot.data, "aw", @progbits
    .p2align 12
boot_pml4:      .fill 512, 8, 0
boot_pdpt_low:  .fill 512, 8, 0
boot_pdpt_high: .fill 512, 8, 0
boot_pd:        .fill 512, 8, 0
    .p2align 3
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff     // 0x08: kernel code, 64-bit
    .quad 0x00cf92000000ffff     // 0x10: kernel data
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .text
    .globl kernel_entry64
kernel_entry64:
    // Zero .bss (the boot stack lives there), then run on the boot stack.
    movq %rdi, %r12
    movabsq $__bss_start, %rdi
    movabsq $__bss_end, %rcx
    subq %rdi, %rcx
    xorl %eax, %eax
    rep stosb
    movabsq $boot_stack_top, %rsp
    xorl %ebp, %ebp
    movl %r12d, %edi             // start-info physical address (zero-extended)
    call kmain
2:  cli
    hlt
    jmp 2b

    .bss
    .p2align 12
    .globl boot_stack_bottom
boot_stack_bottom:
    .skip 64 * 1024
    .globl boot_stack_top
boot_stack_top:
