; Go definitions, imports and header ends (see src/code/lang/mod.rs for captures).
; Earlier patterns win over later ones (and over the grammar's tags.scm) for the same name.

(function_declaration name: (identifier) @name) @definition.function
; methods: the receiver's type is the parent
(method_declaration
  receiver: (parameter_list
    (parameter_declaration
      type: [
        (type_identifier) @local.scope
        (pointer_type (type_identifier) @local.scope)
        (generic_type type: (type_identifier) @local.scope)
        (pointer_type (generic_type type: (type_identifier) @local.scope))
      ]))
  name: (field_identifier) @name) @definition.method
(method_declaration name: (field_identifier) @name) @definition.method
(type_spec name: (type_identifier) @name type: (struct_type)) @definition.struct
(type_spec name: (type_identifier) @name type: (interface_type)) @definition.interface
(type_spec name: (type_identifier) @name) @definition.type
(type_alias name: (type_identifier) @name) @definition.type
(method_elem name: (field_identifier) @name) @definition.method
(package_clause (package_identifier) @name) @definition.module
(source_file
  (const_declaration (const_spec name: (identifier) @name) @definition.const))

; ---- where headers end
(function_declaration body: (block "{" @name @reference.body))
(method_declaration body: (block "{" @name @reference.body))
(struct_type (field_declaration_list "{" @name @reference.body))
(interface_type "{" @name @reference.body)
(const_spec "=" @name @reference.body)

; ---- imports: one per import spec; a package is imported whole
(import_spec
  path: [
    (interpreted_string_literal (interpreted_string_literal_content) @name)
    (raw_string_literal (raw_string_literal_content) @name)
  ]) @reference.import
