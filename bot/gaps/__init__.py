"""Knowledge gaps: recorded questions, feedback and reviewers' themes in a SQL database."""
