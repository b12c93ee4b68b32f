"""The learner's tools: graph pictures, code view, parity, explorers, path recorder, will-it-script, benchmark, debugging, gallery."""
