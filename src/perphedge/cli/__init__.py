"""The command-line shell: parse -> load -> call the core -> render."""
