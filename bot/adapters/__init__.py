"""Front ends: each renders Answers and translates errors, nothing more."""
