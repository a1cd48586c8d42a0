"""The progression advice: what it reads (``inputs``), its rules in order of severity (``rules``), the engine
that runs them (``engine``), the dose one level up or down (``dose_steps``), its vocabulary (``types``) and
what therapists decided about it (``decisions``). See docs/clinical.md, "The advice rules"."""
