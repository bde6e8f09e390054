"""The model registry: register packages, resolve references, promote through gates and
approvals, and keep the history of every change.

A registered version is a model package stored as a tree in the project's object store
(also recorded in the version index as a version of the dataset ``models:/<name>``, so
``data push``, ``pull`` and ``gc`` treat it like any other data) plus a row in the
metadata store. Loading checks the package out into ``.shipyard/models/<digest>`` once and
verifies every file's digest on every load, before anything is deserialised.

>>> registry = ModelRegistry.for_project()  # doctest: +SKIP
>>> registry.register("churn", Path("data/06_models/model"))  # doctest: +SKIP
>>> registry.promote("churn", 1, "champion").outcome  # doctest: +SKIP
'promote'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import ModelError, ModelIntegrityError, ModelNotFoundError, PromotionError
from shipyard.governance import Users, check, current_user
from shipyard.metadata import lineage
from shipyard.metadata import registry as repo
from shipyard.metadata import runs as run_repo
from shipyard.models._gates import Candidate, Decision, GateResult, decide, evaluate_gates
from shipyard.models._names import normalize_alias, normalize_model_name
from shipyard.models._package import LoadedModel, PackageManifest, load_package, verify_package
from shipyard.models._policy import parse_policy
from shipyard.models._signature import Signature
from shipyard.models._uri import ModelRef, parse_model_ref
from shipyard.objects import Digest, ObjectStore, VersionIndex, build_tree, hash_bytes

if TYPE_CHECKING:
    from shipyard.metadata import MetadataStore
    from shipyard.models._evaluate import Scorer
    from shipyard.project import Session

__all__ = ["ModelRegistry", "Promotion"]

#: The version index records registered packages under this dataset name prefix.
VERSION_DATASET_PREFIX = "models:/"


@dataclass(frozen=True)
class Promotion:
    """What a promote or approve call did: the decision, and the request left pending."""

    decision: Decision
    version: repo.ModelVersionRecord
    alias: str
    request: repo.PromotionRequest | None = None
    previous: int | None = None


class ModelRegistry:
    """Registered models of one metadata store and object store.

    ``governance`` is the project's ``governance.yml`` (users, roles, promotion policy);
    ``user`` defaults to :func:`shipyard.governance.current_user`. ``scorer`` evaluates a
    model on a dataset for ``better_than`` gates (the project's catalog provides it).
    """

    def __init__(
        self,
        store: MetadataStore,
        objects: ObjectStore,
        index: VersionIndex,
        *,
        cache: Path,
        governance: Mapping[str, Any] | None = None,
        user: str | None = None,
        scorer: Scorer | None = None,
        pii: Mapping[str, str] | None = None,
    ) -> None:
        self.store = store
        self.objects = objects
        self.index = index
        self.cache = Path(cache)
        self.governance = dict(governance or {})
        self.users = Users.from_config(self.governance)
        self.policy = parse_policy(self.governance)
        self.user = user or current_user()
        self.scorer = scorer
        #: Column -> PII kind, from the catalog entries' ``metadata: {pii: ...}``.
        self.pii = dict(pii or {})

    @classmethod
    def for_project(
        cls, path: str | Path | None = None, *, env: str | None = None, user: str | None = None
    ) -> ModelRegistry:
        """The registry of the project at or above ``path``, with its governance config
        and its catalog for evaluating models (tracked in ``$SHIPYARD_DB`` when set)."""
        from shipyard.project import Session

        return cls.for_session(Session.open(path, env=env), user=user)

    @classmethod
    def for_session(cls, session: Session, *, user: str | None = None) -> ModelRegistry:
        """The registry of an open project session (see :meth:`for_project`)."""
        from shipyard.models._card_data import pii_columns
        from shipyard.models._evaluate import CatalogScorer
        from shipyard.tracking._stores import tracking_for

        tracking = tracking_for(session.settings.project_root)
        assert tracking is not None  # a project always has a store
        versioning = session.versioning
        return cls(
            tracking.store,
            versioning.store,
            versioning.index,
            cache=session.settings.shipyard_dir / "models",
            governance=session.config.get("governance"),
            user=user,
            scorer=CatalogScorer(session),
            pii=pii_columns(session.config.catalog),
        )

    # --- registering ------------------------------------------------------------------

    def register(
        self,
        name: str,
        source: str | Path | Digest,
        *,
        run_id: str | None = None,
        dataset: str | None = None,
        description: str | None = None,
    ) -> repo.ModelVersionRecord:
        """Register the package in folder ``source`` (or stored as tree ``source``) as the
        next version of ``name``. The same content registered again returns its version."""
        check("models.register", user=self.user, users=self.users)
        name = normalize_model_name(name)
        if isinstance(source, Digest):
            digest = source
            manifest = verify_package(self._checkout(digest))  # as stored by a run
        else:
            folder = Path(source)
            manifest = verify_package(folder)  # a tampered package is never stored
            digest = self.objects.put_tree(folder).digest
        size = self.objects.read_tree(digest).size
        self.index.record(VERSION_DATASET_PREFIX + name, digest, size, "tree", run_id=run_id)
        with self.store.begin() as conn:
            repo.ensure_model(conn, name, user=self.user, description=description)
            return repo.add_version(
                conn,
                name,
                digest=str(digest),
                flavor=manifest.flavor,
                user=self.user,
                run_id=run_id or manifest.run_id,
                dataset=dataset,
                signature=manifest.signature,
                metrics=dict(manifest.metrics),
                description=description or manifest.description,
            )

    def register_from_run(
        self, name: str, run: str, *, dataset: str = "model", description: str | None = None
    ) -> repo.ModelVersionRecord:
        """Register the version of ``dataset`` that run ``run`` (id or prefix) wrote."""
        with self.store.connect() as conn:
            record = run_repo.get(conn, run)
            written = [
                edge
                for edge in lineage.of_run(conn, record.id)
                if edge.dataset == dataset and edge.direction == "out"
            ]
        if not written:
            raise ModelNotFoundError(
                f"Run {record.id} did not write a version of dataset '{dataset}'.",
                hint="Pass the catalog name of the model with --dataset; the dataset must be "
                "versioned (`versioned: true`) so that its versions are tracked.",
            )
        edge = written[-1]
        if self.index.resolve(dataset, edge.version_id).kind != "tree":
            raise ModelError(
                f"Dataset '{dataset}' of run {record.id} is a file, not a model package.",
                hint="Name the run's `type: model` dataset with --dataset.",
            )
        return self.register(
            name,
            Digest.parse(edge.digest),
            run_id=record.id,
            dataset=dataset,
            description=description,
        )

    def trust(self, name: str, version: int | str) -> repo.ModelVersionRecord:
        """Mark a version trusted: its package loads even when it carries code (the
        ``python`` flavor). Only a role allowed to trust (governance) may."""
        check("models.trust", user=self.user, users=self.users)
        record = self.version(name, version)
        with self.store.begin() as conn:
            repo.mark_trusted(conn, record.model, record.version, user=self.user)
        return self.version(record.model, record.version)

    # --- reading ----------------------------------------------------------------------

    def resolve(self, ref: str | ModelRef) -> repo.ModelVersionRecord:
        """The version ``ref`` names: ``churn@champion``, ``churn:3``, ``models:/churn/3``,
        ``churn`` (the newest version)."""
        parsed = ref if isinstance(ref, ModelRef) else parse_model_ref(ref)
        target: int | str = (
            parsed.version
            if parsed.version is not None
            else parsed.alias
            if parsed.alias is not None
            else "latest"
        )
        with self.store.connect() as conn:
            return repo.resolve(conn, parsed.name, target)

    def version(self, name: str, version: int | str) -> repo.ModelVersionRecord:
        """Version ``version`` of model ``name``, as stored now."""
        return self.resolve(ModelRef(normalize_model_name(name), int(version), None))

    def package_folder(self, version: repo.ModelVersionRecord) -> Path:
        """A local folder holding exactly ``version``'s registered package: checked out
        once, and compared with the registered tree (manifest included) on every call."""
        digest = Digest.parse(version.digest)
        folder = self._checkout(digest)
        local = build_tree(folder)
        if hash_bytes(local.to_bytes()) != digest:
            registered = self.objects.read_tree(digest).entries
            changed = sorted(
                path
                for path in registered.keys() | local.entries.keys()
                if path not in registered
                or path not in local.entries
                or registered[path].digest != local.entries[path].digest
            )
            raise ModelIntegrityError(
                f"The package of {version.model} version {version.version} at {folder} no "
                f"longer matches the registered one: {', '.join(changed) or 'file modes'} "
                "changed.",
                hint=f"Delete {folder}: the next load checks the registered package out "
                "of the object store again.",
            )
        return folder

    def manifest(self, version: repo.ModelVersionRecord) -> PackageManifest:
        """The verified manifest of ``version``'s package."""
        return verify_package(self.package_folder(version))

    def load(self, ref: str | ModelRef, *, trusted: bool = False) -> LoadedModel:
        """The model ``ref`` names, with every file verified before anything is loaded.
        A version marked trusted in the registry loads like ``trusted=True``."""
        version = self.resolve(ref)
        return load_package(self.package_folder(version), trusted=trusted or version.trusted)

    # --- promotion --------------------------------------------------------------------

    def promote(self, name: str, version: int | str, alias: str) -> Promotion:
        """Move ``alias`` to ``version`` if the alias's gates pass and its approvals are
        given; otherwise leave a pending request (approvals missing) or refuse (a gate
        failed, :class:`PromotionError`). Every outcome is in the model's history."""
        check("models.promote", user=self.user, users=self.users)
        alias = normalize_alias(alias)
        record = self.version(name, version)
        rule = self.policy.for_alias(alias)
        results = evaluate_gates(rule, self._candidate(record), _GateContext(self, record.model))
        with self.store.begin() as conn:
            pending = repo.pending_requests(conn, record.model, version=record.version, alias=alias)
            given = [(a.user, a.role) for r in pending for a in r.approvals]
            decision = decide(rule, results, given)
            if decision.outcome == "refused":
                repo.record_event(
                    conn,
                    record.model,
                    "rejected",
                    actor=self.user,
                    version=record.version,
                    alias=alias,
                    details={"gates": [r.to_dict() for r in results], "reason": decision.reason},
                )
        if decision.outcome == "refused":
            raise PromotionError(
                f"Promotion of {record.model} version {record.version} to '{alias}' refused: "
                f"{decision.reason}",
                hint="Fix what the failed gates name (or the policy in "
                "conf/base/governance.yml) and promote again.",
            )
        return self._apply(record, alias, decision, [r.to_dict() for r in results])

    def approve(
        self, name: str, version: int | str, alias: str, *, comment: str | None = None
    ) -> Promotion:
        """Approve the pending promotion of ``version`` to ``alias``; the promotion
        completes once the policy's approvals are all given."""
        alias = normalize_alias(alias)
        record = self.version(name, version)
        rule = self.policy.for_alias(alias)
        roles = rule.approvals.roles if rule.approvals else ()
        role = check("models.approve", user=self.user, users=self.users, roles=roles)
        with self.store.begin() as conn:
            pending = repo.pending_requests(conn, record.model, version=record.version, alias=alias)
            if not pending:
                raise PromotionError(
                    f"No promotion of {record.model} version {record.version} to '{alias}' "
                    "is waiting for approval.",
                    hint=f"Request it first: shipyard models promote {record.model} "
                    f"{record.version} --alias {alias}",
                )
            request = pending[0]
            if request.requested_by == self.user and self.users.configured:
                raise PromotionError(
                    f"{self.user} requested this promotion and cannot also approve it.",
                    hint="Another person with an approving role must approve it.",
                )
            request = repo.add_approval(
                conn, request.id, user=self.user, role=role, comment=comment
            )
        results = [GateResult.from_dict(r) for r in request.gate_results]
        decision = decide(rule, results, [(a.user, a.role) for a in request.approvals])
        return self._apply(record, alias, decision, list(request.gate_results))

    def _apply(
        self,
        record: repo.ModelVersionRecord,
        alias: str,
        decision: Decision,
        gate_results: Sequence[Mapping[str, Any]],
    ) -> Promotion:
        with self.store.begin() as conn:
            if decision.outcome == "pending":
                request = repo.open_request(
                    conn,
                    record.model,
                    record.version,
                    alias,
                    user=self.user,
                    gate_results=list(gate_results),
                )
                return Promotion(decision, record, alias, request=request)
            previous = repo.set_alias(
                conn,
                record.model,
                alias,
                record.version,
                user=self.user,
                details={"gates": list(gate_results)},
            )
            for request in repo.pending_requests(
                conn, record.model, version=record.version, alias=alias
            ):
                repo.close_request(conn, request.id, "completed", user=self.user)
        moved = self.version(record.model, record.version)  # with its new alias
        return Promotion(decision, moved, alias, previous=previous)

    def _candidate(self, record: repo.ModelVersionRecord) -> Candidate:
        return Candidate(
            name=record.model,
            version=record.version,
            metrics=dict(record.metrics or {}),
            signature=record.signature,
        )

    # --- the package cache ------------------------------------------------------------

    def _checkout(self, digest: Digest) -> Path:
        # Copies, not links: a write into the cache must never reach a stored object.
        return self.objects.checkout_tree_once(digest, self.cache / digest.hex, link=False)


class _GateContext:
    """What the gates of one model's promotion ask of the registry: the version holding an
    alias, scores on a dataset, signature differences."""

    def __init__(self, registry: ModelRegistry, name: str) -> None:
        self._registry = registry
        self._name = name

    def incumbent(self, alias: str) -> Candidate | None:
        with self._registry.store.connect() as conn:
            version = repo.aliases(conn, self._name).get(alias)
            if version is None:
                return None
            return self._registry._candidate(repo.get_version(conn, self._name, version))

    def score(
        self,
        candidate: Candidate,
        metric: str,
        dataset: str,
        version: str | None,
        *,
        target: str | None = None,
    ) -> float:
        scorer = self._registry.scorer
        if scorer is None:
            raise PromotionError(
                "This registry has no catalog to evaluate models on.",
                hint="Promote from inside the project, where the catalog defines the dataset.",
            )
        model = self._registry.load(f"{candidate.name}:{candidate.version}")
        return scorer.score(model, metric, dataset, version, target=target)

    def signature_problems(self, new: Mapping[str, Any], old: Mapping[str, Any]) -> list[str]:
        return Signature.from_dict(new).incompatibilities(Signature.from_dict(old))
