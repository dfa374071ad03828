"""Media files an item refers to: ``check`` sniffs the real type, enforces the policy's size
and dimension limits and sanitizes SVG, before anything is stored."""
