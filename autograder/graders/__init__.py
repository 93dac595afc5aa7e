"""Hidden graders, one module per outline section. Never copied to the student release."""
