"""The recipe's `knowledge:` section, the knowledge policy and its distribution knobs."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.json_schema import SkipJsonSchema

from factory.domains.base import FROM_RECIPE_FILE, DistributionBase, PolicyBase


class KnowledgePolicy(PolicyBase):
    """What a kept answer must do (the grounding verifier reads these)."""

    require_citation: bool = Field(
        True, description="An answer must cite the section it comes from ([path § heading])."
    )


class KnowledgeDistribution(DistributionBase):
    """How the questions of a run are drawn."""

    unanswerable_share: float = Field(
        0.12,
        ge=0.0,
        le=0.5,
        description="Share of questions the documents cannot answer (answered 'The documents "
        "do not say'), so a model learns to abstain.",
    )


class KnowledgeSettings(BaseModel):
    """Which documents the questions are about (the embedded fabricated company by default)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    documents: str | None = Field(
        None,
        min_length=1,
        description="Your own documents: a file, folder or glob relative to the recipe's folder "
        "(never outside it), e.g. 'docs/**/*.md'. Markdown, plain text, HTML and PDF. Unset: "
        "the fabricated company's handbook.",
    )
    chunk_words: int = Field(
        220, ge=40, le=4000, description="Longest passage, in words; longer sections are split."
    )
    max_file_bytes: int = Field(
        20_000_000, gt=0, description="Larger files are skipped (listed in the manifest)."
    )
    # Set by load_recipe and by the run, never by a recipe file.
    root: Annotated[Path | None, SkipJsonSchema()] = Field(
        None, description="The recipe's folder (set by load_recipe)."
    )
    corpus: Annotated[Path | None, SkipJsonSchema()] = Field(
        None, description="The run's prepared corpus.json (set by the run)."
    )
    corpus_sha256: Annotated[str | None, SkipJsonSchema()] = Field(
        None, description="Digest of the prepared corpus (set by the run)."
    )

    @field_validator("documents")
    @classmethod
    def _inside_the_recipe_folder(cls, value: str | None) -> str | None:
        if value is None:
            return value
        path = PurePosixPath(value.replace("\\", "/"))
        if path.is_absolute() or value.startswith("~") or ".." in path.parts:
            raise ValueError(
                "must be a path or glob relative to the recipe's folder, without '..' "
                f"(got {value!r})"
            )
        return value

    @field_validator("root", "corpus", "corpus_sha256")
    @classmethod
    def _run_only(cls, value: object, info: ValidationInfo) -> object:
        if value is not None and info.context and info.context.get(FROM_RECIPE_FILE):
            raise ValueError("is set by fin-factory itself, not by a recipe")
        return value

    def resolved(self, folder: Path) -> KnowledgeSettings:
        """These settings with `root` set to the recipe's folder."""
        return self.model_copy(update={"root": folder.resolve()})
