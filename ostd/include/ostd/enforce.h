// ostd/enforce.h — include LAST in every services/ source file.
//
// Poisons the names that safe service code may not use: any later use, keywords included, is a
// compile error on g++ and clang++. Headers included before this one are unaffected (that is
// where ostd keeps its own, reviewed unsafe code). See ../shared/STYLE.md, "Keeping services/ safe".
#pragma once

#pragma GCC poison asm __asm__ __asm reinterpret_cast const_cast union goto volatile
#pragma GCC poison memcpy memmove memset memcmp bzero strcpy strncpy strcat sprintf
#pragma GCC poison malloc calloc realloc free alloca
#pragma GCC poison launder construct_at bit_cast
#pragma GCC poison va_start va_arg va_end va_list
#pragma GCC poison setjmp longjmp system
