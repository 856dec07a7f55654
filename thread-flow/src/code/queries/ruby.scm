; Ruby (baseline; see src/code/lang/mod.rs for captures). require "a"  require_relative "b"
(call
  method: (identifier) @local.reference
  arguments: (argument_list . (string (string_content) @name))
  (#match? @local.reference "^(require|require_relative|load)$")) @reference.import
