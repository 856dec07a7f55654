; C#: this query alone (the grammar's tags.scm has a `@module` capture, which
; tree-sitter-tags rejects). See src/code/lang/mod.rs for what each capture means.

; ---- types
(class_declaration name: (identifier) @name) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(struct_declaration name: (identifier) @name) @definition.struct
(interface_declaration name: (identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum
; `delegate int Handler(string s);` names a type (Universal Ctags says "method")
(delegate_declaration name: (identifier) @name) @definition.type
; `using Alias = Some.Type;`
(using_directive name: (identifier) @name) @definition.type

; ---- namespaces: `namespace A.B { }`, `namespace A.B;`
(namespace_declaration name: (_) @name) @definition.module
(file_scoped_namespace_declaration name: (_) @name) @definition.module

; ---- methods (also interface methods without a body), constructors, finalizers, and local
; functions. Properties, events, indexers and operators are members, not listed.
(method_declaration name: (identifier) @name) @definition.method
(constructor_declaration name: (identifier) @name) @definition.method
(destructor_declaration name: (identifier) @name) @definition.method
(local_function_statement name: (identifier) @name) @definition.function

; ---- imports: `using System.Text;`, `using static System.Math;`, and the target of an alias
; (`using Alias = Some.Type;`: the alias itself is a definition above)
(using_directive
  !name
  [(identifier) (qualified_name) (alias_qualified_name)] @name) @reference.import
(using_directive
  name: (identifier)
  .
  [
    (identifier) @name
    (qualified_name name: (identifier)) @name
    (alias_qualified_name) @name
    ; `using Counts = A.B.Dictionary<string, int>;` depends on namespace A.B
    (qualified_name qualifier: (_) @name name: (generic_name))
  ]) @reference.import

; ---- calls: `F()`, `a.F()`, `a?.F()`, `F<T>()`, `a.F<T>()`, and `new T(...)` calls T's
; constructor
(invocation_expression
  function: [
    (identifier) @name
    (generic_name (identifier) @name)
    (member_access_expression name: (identifier) @name)
    (member_access_expression name: (generic_name (identifier) @name))
    (conditional_access_expression (member_binding_expression name: (identifier) @name))
    (conditional_access_expression
      (member_binding_expression name: (generic_name (identifier) @name)))
  ]) @reference.call
(object_creation_expression
  type: [
    (identifier) @name
    (generic_name (identifier) @name)
    (qualified_name name: (identifier) @name)
    (qualified_name name: (generic_name (identifier) @name))
  ]) @reference.call

; ---- where headers end
(class_declaration body: (declaration_list "{" @name @reference.body))
(record_declaration body: (declaration_list "{" @name @reference.body))
(struct_declaration body: (declaration_list "{" @name @reference.body))
(interface_declaration body: (declaration_list "{" @name @reference.body))
(enum_declaration body: (enum_member_declaration_list "{" @name @reference.body))
(namespace_declaration body: (declaration_list "{" @name @reference.body))
(method_declaration body: (block "{" @name @reference.body))
(method_declaration body: (arrow_expression_clause "=>" @name @reference.body))
(constructor_declaration body: (block "{" @name @reference.body))
(local_function_statement body: (block "{" @name @reference.body))
