"""GAN Studio's desktop application (PySide6). Imports `trainers`; `trainers` never imports this."""
