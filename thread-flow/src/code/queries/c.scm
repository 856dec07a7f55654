; C, before the grammar's tags.scm. See src/code/lang/mod.rs for what each capture means.
; tags.scm tags every function declarator (prototypes too, and only the declarator, so a
; function's range would not hold its body) and calls structs "class": the patterns here
; come first and claim those names with their real kinds and ranges.

; ---- functions: the whole definition, also `T *f()`, `T **f()`, `int (f)(void)`
(function_definition
  declarator: (function_declarator declarator: (identifier) @name)) @definition.function
(function_definition
  declarator: (_ (function_declarator declarator: (identifier) @name))) @definition.function
(function_definition
  declarator: (_ (_ (function_declarator declarator: (identifier) @name)))) @definition.function
(function_definition
  declarator: (function_declarator
    declarator: (parenthesized_declarator (identifier) @name))) @definition.function

; ---- types (only with a body: `struct s;` and `struct s *p` only name them)
(struct_specifier name: (type_identifier) @name body: (_)) @definition.struct
(union_specifier name: (type_identifier) @name body: (_)) @definition.union
(enum_specifier name: (type_identifier) @name body: (_)) @definition.enum
; typedef T name;  typedef T *name;  typedef T name[4];  typedef int name(int);
; typedef int (*name)(int);  typedef T *(*name)(int);
(type_definition declarator: (type_identifier) @name) @definition.type
(type_definition declarator: (_ declarator: (type_identifier) @name)) @definition.type
(type_definition declarator: (_ declarator: (_ declarator: (type_identifier) @name))) @definition.type
; typedef int (name)(int);  typedef T *(name)(int);  typedef void (APIENTRYP name)(int);
(type_definition
  declarator: (function_declarator
    declarator: (parenthesized_declarator (type_identifier) @name))) @definition.type
(type_definition
  declarator: (pointer_declarator
    declarator: (function_declarator
      declarator: (parenthesized_declarator (type_identifier) @name)))) @definition.type
(type_definition
  declarator: (function_declarator
    declarator: (parenthesized_declarator
      (_ declarator: (type_identifier) @name)))) @definition.type
(type_definition
  declarator: (pointer_declarator
    declarator: (function_declarator
      declarator: (parenthesized_declarator
        (_ declarator: (type_identifier) @name))))) @definition.type

; ---- macros
(preproc_def name: (identifier) @name) @definition.macro
(preproc_function_def name: (identifier) @name) @definition.macro

; ---- forward declarations and uses (`class A;`, `enum e x;`, `union u v;`) only name a
; type: keep tags.scm off them
(struct_specifier name: (_) @ignore !body)
(union_specifier name: (_) @ignore !body)
(enum_specifier name: (_) @ignore !body)

; ---- prototypes (`int f(void);`) declare, they do not define: keep tags.scm off them
(function_declarator declarator: (_) @ignore)

; ---- imports: #include <a.h>, #include "b.h"
(preproc_include
  path: [
    (string_literal (string_content) @name)
    (system_lib_string) @name
  ]) @reference.import

; ---- calls (macro invocations look the same: they count too)
(call_expression function: (identifier) @name) @reference.call
(call_expression function: (field_expression field: (field_identifier) @name)) @reference.call
(call_expression
  function: (parenthesized_expression (identifier) @name)) @reference.call

; ---- where headers end
(function_definition body: (compound_statement "{" @name @reference.body))
(struct_specifier body: (field_declaration_list "{" @name @reference.body))
(union_specifier body: (field_declaration_list "{" @name @reference.body))
(enum_specifier body: (enumerator_list "{" @name @reference.body))
