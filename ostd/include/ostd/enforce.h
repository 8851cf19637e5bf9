// ostd/enforce.h — include LAST in every services/ source file.
//
// Poisons the names that safe service code may not use: any later use, keywords included, is a
// compile error on g++ and clang++. Headers included before this one are unaffected (that is
// where ostd keeps its own, reviewed unsafe code). See docs/style.md, "Keeping services/ safe",
// and docs/safety.md.
#pragma once

// Some of these are macros in the C library headers; a poisoned name must not be a macro.
#undef alloca
#undef setjmp
#undef va_start
#undef va_arg
#undef va_end
#undef va_copy

#pragma GCC poison asm __asm__ __asm reinterpret_cast const_cast union goto volatile
#pragma GCC poison memcpy memmove memset memcmp bzero strcpy strncpy strcat sprintf
#pragma GCC poison malloc calloc realloc free alloca __builtin_alloca
#pragma GCC poison launder construct_at bit_cast
#pragma GCC poison va_start va_arg va_end va_copy va_list __builtin_va_list
#pragma GCC poison setjmp longjmp
