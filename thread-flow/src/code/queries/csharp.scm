; C# (baseline; see src/code/lang/mod.rs for captures).
(class_declaration name: (identifier) @name) @definition.class
(struct_declaration name: (identifier) @name) @definition.struct
(interface_declaration name: (identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum
(method_declaration name: (identifier) @name) @definition.method
(namespace_declaration name: (_) @name) @definition.module
(invocation_expression
  function: [
    (identifier) @name
    (member_access_expression name: (identifier) @name)
  ]) @reference.call
; using System.Collections.Generic;
(using_directive [(identifier) (qualified_name)] @name) @reference.import
