/* Embeds the linked stub image into the host backend (STUB_PATH is set by CMake). */
    .section .rodata
    .balign 16
    .globl umk_stub_image
umk_stub_image:
    .incbin STUB_PATH
    .globl umk_stub_image_end
umk_stub_image_end:
    .section .note.GNU-stack, "", @progbits
