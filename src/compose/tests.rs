//! Unit tests of [`super::load`] on small specs written to temporary
//! directories (the fixture-driven tests live in `tests/spec_*.rs`).

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::*;

/// A temporary project directory with files in it.
pub(crate) struct TempProject {
    pub dir: tempfile::TempDir,
}

impl TempProject {
    pub fn new(files: &[(&str, &str)]) -> TempProject {
        let dir = tempfile::Builder::new()
            .prefix("torqspec")
            .tempdir()
            .expect("tempdir");
        for (name, text) in files {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(path, text).expect("write");
        }
        TempProject { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn options(&self, files: &[&str]) -> LoadOptions {
        LoadOptions {
            files: files.iter().map(PathBuf::from).collect(),
            working_dir: self.path().to_path_buf(),
            environment: IndexMap::new(),
            project_name: Some("test".into()),
            ..LoadOptions::default()
        }
    }

    pub fn load(&self, files: &[&str]) -> Result<Project, SpecError> {
        load(&self.options(files))
    }
}

fn load_one(text: &str) -> Result<Project, SpecError> {
    TempProject::new(&[("compose.yaml", text)]).load(&["compose.yaml"])
}

#[test]
fn a_small_project_loads() {
    let project = load_one(
        "services:\n  db:\n    image: postgres\n  web:\n    image: nginx\n    depends_on: [db]\n    ports: ['8080:80']\n",
    )
    .unwrap();
    assert_eq!(project.name, "test");
    assert_eq!(project.services.keys().collect::<Vec<_>>(), ["db", "web"]);
    let web = &project.services["web"];
    assert_eq!(web.ports[0].target, 80);
    assert_eq!(web.depends_on["db"].condition, model::Condition::Started);
    assert!(web.networks.contains_key("default"));
    assert_eq!(project.networks["default"].name, "test_default");
}

#[test]
fn default_network_is_named_after_the_project() {
    let p = TempProject::new(&[("compose.yaml", "services:\n  a:\n    image: x\n")]);
    let mut options = p.options(&["compose.yaml"]);
    options.project_name = Some("ci-123".into());
    let project = load(&options).unwrap();
    assert_eq!(project.networks["default"].name, "ci-123_default");
}

#[test]
fn unknown_dependency_is_an_error_at_its_key() {
    let err =
        load_one("services:\n  web:\n    image: x\n    depends_on:\n      - dbb\n").unwrap_err();
    assert_eq!((err.line, err.column), (Some(5), Some(9)), "{err}");
    assert!(err.message.contains("undefined service `dbb`"), "{err}");
}

#[test]
fn cycles_are_named() {
    let err = load_one(
        "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [c]\n  c:\n    image: x\n    depends_on: [a]\n",
    )
    .unwrap_err();
    assert!(err.message.contains("a -> b -> c -> a"), "{err}");
    assert_eq!(err.line, Some(10), "{err}");
}

#[test]
fn wrong_type_names_file_line_column() {
    let err = load_one(
        "services:\n  web:\n    image: x\n    healthcheck:\n      test: [CMD, x]\n      retries: many\n",
    )
    .unwrap_err();
    assert_eq!(err.file.as_deref(), Some("compose.yaml"));
    assert_eq!((err.line, err.column), (Some(6), Some(16)));
    assert!(
        err.message.contains("services.web.healthcheck.retries"),
        "{err}"
    );
}

#[test]
fn interpolation_types_numbers_after_substitution() {
    let p = TempProject::new(&[(
        "compose.yaml",
        "services:\n  web:\n    image: x:${TAG:-latest}\n    healthcheck:\n      test: [CMD, x]\n      retries: ${RETRIES}\n",
    )]);
    let mut options = p.options(&["compose.yaml"]);
    options.environment.insert("RETRIES".into(), "7".into());
    let project = load(&options).unwrap();
    let web = &project.services["web"];
    assert_eq!(web.image.as_deref(), Some("x:latest"));
    assert_eq!(web.healthcheck.as_ref().unwrap().retries, Some(7));
}

#[test]
fn dot_env_feeds_interpolation_but_process_env_wins() {
    let p = TempProject::new(&[
        (
            "compose.yaml",
            "services:\n  web:\n    image: ${IMAGE}:${TAG}\n",
        ),
        (".env", "IMAGE=fromfile\nTAG=filetag\n"),
    ]);
    let mut options = p.options(&["compose.yaml"]);
    options.environment.insert("TAG".into(), "envtag".into());
    let project = load(&options).unwrap();
    assert_eq!(
        project.services["web"].image.as_deref(),
        Some("fromfile:envtag")
    );
}

#[test]
fn missing_required_variable_reports_its_message() {
    let err = load_one("services:\n  web:\n    image: ${IMAGE:?set IMAGE to the image to run}\n")
        .unwrap_err();
    assert_eq!((err.line, err.column), (Some(3), Some(12)));
    assert!(
        err.message.contains("set IMAGE to the image to run"),
        "{err}"
    );
}

#[test]
fn project_name_precedence() {
    let p = TempProject::new(&[(
        "compose.yaml",
        "name: From_Spec\nservices:\n  a:\n    image: x\n",
    )]);
    let mut options = p.options(&["compose.yaml"]);
    options.project_name = None;
    assert_eq!(load(&options).unwrap().name, "from_spec");
    options
        .environment
        .insert("COMPOSE_PROJECT_NAME".into(), "fromcompose".into());
    assert_eq!(load(&options).unwrap().name, "fromcompose");
    options
        .environment
        .insert("TORQ_PROJECT_NAME".into(), "fromenv".into());
    assert_eq!(load(&options).unwrap().name, "fromenv");
    options.project_name = Some("fromflag".into());
    assert_eq!(load(&options).unwrap().name, "fromflag");
    options.project_name = Some("Bad Name".into());
    let err = load(&options).unwrap_err().to_string();
    assert!(err.contains("invalid project name `Bad Name`"), "{err}");
}

#[test]
fn directory_name_is_the_fallback_project_name() {
    let p = TempProject::new(&[("My.App/compose.yaml", "services:\n  a:\n    image: x\n")]);
    let mut options = p.options(&["My.App/compose.yaml"]);
    options.project_name = None;
    assert_eq!(load(&options).unwrap().name, "myapp");
}

#[test]
fn relative_paths_resolve_against_the_project_directory() {
    let p = TempProject::new(&[(
        "proj/compose.yaml",
        "services:\n  a:\n    build: ./app\n    volumes: ['./data:/data', 'named:/n']\nvolumes:\n  named:\n",
    )]);
    let project = p.load(&["proj/compose.yaml"]).unwrap();
    let a = &project.services["a"];
    let base = p.path().join("proj");
    assert_eq!(a.build.as_ref().unwrap().context, base.join("app"));
    assert_eq!(
        a.volumes[0].source.as_deref(),
        Some(base.join("data").to_str().unwrap())
    );
    assert_eq!(project.volumes["named"].name, "test_named");
    assert_eq!(project.working_dir, base);
    assert_eq!(project.config_files, vec![base.join("compose.yaml")]);
}

#[test]
fn profiles_select_services() {
    let text = "services:\n  a:\n    image: x\n  b:\n    image: x\n    profiles: [debug]\n";
    let p = TempProject::new(&[("compose.yaml", text)]);
    let project = p.load(&["compose.yaml"]).unwrap();
    assert_eq!(project.services.keys().collect::<Vec<_>>(), ["a"]);
    assert_eq!(project.disabled_services.keys().collect::<Vec<_>>(), ["b"]);
    let mut options = p.options(&["compose.yaml"]);
    options.profiles = vec!["debug".into()];
    assert_eq!(load(&options).unwrap().services.len(), 2);
}

#[test]
fn the_builtin_spec_is_used_when_nothing_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = LoadOptions {
        working_dir: dir.path().to_path_buf(),
        ..LoadOptions::default()
    };
    // Only meaningful when no parent of the temp dir holds a spec file.
    if discover::discover(dir.path()).is_empty() {
        let err = load(&options).unwrap_err();
        assert!(err.to_string().contains("no spec file found"), "{err}");
        options.builtin = Some(BuiltinSpec {
            name: "builtin.yaml",
            text: "services:\n  a:\n    image: x\n",
        });
        let project = load(&options).unwrap();
        assert!(project.config_files.is_empty());
        assert_eq!(project.working_dir, dir.path());
        assert_eq!(project.services.keys().collect::<Vec<_>>(), ["a"]);
    }
}

#[test]
fn service_extensions_are_kept() {
    let project =
        load_one("services:\n  a:\n    image: x\n    x-torq-self-image: true\nx-top: {k: 1}\n")
            .unwrap();
    assert_eq!(
        project.services["a"].extensions["x-torq-self-image"],
        serde_json::json!(true)
    );
    assert_eq!(project.extensions["x-top"], serde_json::json!({"k": 1}));
}

#[test]
fn unknown_keys_are_errors_with_a_hint() {
    let err = load_one("services:\n  a:\n    imag: x\n").unwrap_err();
    assert_eq!((err.line, err.column), (Some(3), Some(5)));
    assert!(err.message.contains("did you mean `image`"), "{err}");
}

#[test]
fn several_files_merge() {
    let p = TempProject::new(&[
        ("a.yaml", "services:\n  web:\n    image: x\n    command: [a]\n    ports: ['80:80']\n    environment: {A: '1'}\n"),
        ("b.yaml", "services:\n  web:\n    command: [b]\n    ports: ['81:81']\n    environment: [B=2]\n"),
    ]);
    let project = p.load(&["a.yaml", "b.yaml"]).unwrap();
    let web = &project.services["web"];
    assert_eq!(web.command, Some(vec!["b".to_string()]));
    assert_eq!(web.ports.len(), 2);
    assert_eq!(web.environment["A"].as_deref(), Some("1"));
    assert_eq!(web.environment["B"].as_deref(), Some("2"));
}

#[test]
fn env_file_option_replaces_dot_env() {
    let p = TempProject::new(&[
        (
            "compose.yaml",
            "services:\n  web:\n    image: ${IMAGE:-none}:${TAG:-none}\n",
        ),
        (".env", "IMAGE=from-dotenv\n"),
        ("conf/ci.env", "TAG=from-ci\n"),
        ("conf/more.env", "IMAGE=from-more\n"),
    ]);
    let mut options = p.options(&["compose.yaml"]);
    options.env_files = vec!["conf/ci.env".into(), "conf/more.env".into()];
    let project = load(&options).unwrap();
    assert_eq!(
        project.services["web"].image.as_deref(),
        Some("from-more:from-ci")
    );
    options.env_files = vec!["conf/missing.env".into()];
    let err = load(&options).unwrap_err();
    assert!(err.to_string().contains("missing.env"), "{err}");
}

#[test]
fn project_directory_option_moves_relative_paths_and_dot_env() {
    let p = TempProject::new(&[
        (
            "specs/compose.yaml",
            "services:\n  web:\n    image: ${IMAGE}\n    build: ./ctx\n",
        ),
        ("base/.env", "IMAGE=from-base\n"),
    ]);
    let mut options = p.options(&["specs/compose.yaml"]);
    options.project_directory = Some("base".into());
    let project = load(&options).unwrap();
    let web = &project.services["web"];
    assert_eq!(web.image.as_deref(), Some("from-base"));
    assert_eq!(
        web.build.as_ref().unwrap().context,
        p.path().join("base/ctx")
    );
    assert_eq!(project.working_dir, p.path().join("base"));
}

#[test]
fn compose_project_name_is_available_to_interpolation() {
    let project = load_one(
        "services:\n  web:\n    image: busybox\n    hostname: ${COMPOSE_PROJECT_NAME}-web\n",
    )
    .unwrap();
    assert_eq!(
        project.services["web"].hostname.as_deref(),
        Some("test-web")
    );
}

#[test]
fn multiple_yaml_documents_merge_in_order() {
    let project =
        load_one("services:\n  web:\n    image: a\n---\nservices:\n  web:\n    image: b\n")
            .unwrap();
    assert_eq!(project.services["web"].image.as_deref(), Some("b"));
}

#[test]
fn warnings_collect_unset_variables_and_carried_keys() {
    let project = load_one(
        "services:\n  web:\n    image: x${NOPE_NOT_SET}\n    sysctls: {net.core.somaxconn: 1024}\n    annotations: {a: b}\n",
    )
    .unwrap();
    assert!(project.warnings.iter().any(|w| w.contains("NOPE_NOT_SET")));
    // Applied keys are silent; keys the engine cannot apply are named.
    assert!(!project.warnings.iter().any(|w| w.contains("sysctls")));
    assert!(project.warnings.iter().any(|w| w.contains("annotations")));
    assert_eq!(
        project.services["web"].sysctls["net.core.somaxconn"],
        "1024"
    );
}

/// API 1.41 has no `healthcheck.start_interval`: compose refuses to create
/// the container on such an engine; torq runs it without and says so.
#[test]
fn a_healthcheck_start_interval_is_named_as_not_applied() {
    let project = load_one(
        "services:\n  web:\n    image: x\n    healthcheck:\n      test: [CMD, 'true']\n      start_interval: 1s\n  db:\n    image: x\n    healthcheck:\n      test: [CMD, 'true']\n",
    )
    .unwrap();
    assert!(
        project
            .warnings
            .contains(&"`healthcheck.start_interval` (web) is kept in the model but not applied to containers yet".to_string()),
        "{:?}",
        project.warnings
    );
}

#[test]
fn extends_from_another_file_resolves_its_relative_paths() {
    let p = TempProject::new(&[
        (
            "compose.yaml",
            "services:\n  web:\n    extends:\n      file: common/base.yaml\n      service: app\n    environment: {B: '2'}\n",
        ),
        (
            "common/base.yaml",
            "services:\n  app:\n    build: ./ctx\n    volumes: ['./data:/data']\n    environment: {A: '1', B: '1'}\n",
        ),
    ]);
    let project = p.load(&["compose.yaml"]).unwrap();
    let web = &project.services["web"];
    assert_eq!(
        web.build.as_ref().unwrap().context,
        p.path().join("common/ctx")
    );
    let data = p.path().join("common/data");
    assert_eq!(web.volumes[0].source.as_deref(), data.to_str());
    assert_eq!(web.environment["A"].as_deref(), Some("1"));
    assert_eq!(web.environment["B"].as_deref(), Some("2"));
}

#[test]
fn include_interpolates_with_its_own_env_file_below_the_including_one() {
    let p = TempProject::new(&[
        (
            "compose.yaml",
            "include: [sub/compose.yaml]\nservices:\n  web:\n    image: nginx\n",
        ),
        ("sub/.env", "TAG=from-sub\nONLY_SUB=yes\n"),
        (
            "sub/compose.yaml",
            "services:\n  api:\n    image: api:${TAG}\n    environment: {X: '${ONLY_SUB}'}\n    volumes: ['./d:/d']\n",
        ),
    ]);
    let mut options = p.options(&["compose.yaml"]);
    options
        .environment
        .insert("TAG".into(), "from-process".into());
    let project = load(&options).unwrap();
    let api = &project.services["api"];
    assert_eq!(api.image.as_deref(), Some("api:from-process"));
    assert_eq!(api.environment["X"].as_deref(), Some("yes"));
    let d = p.path().join("sub/d");
    assert_eq!(api.volumes[0].source.as_deref(), d.to_str());
}

#[test]
fn compose_profiles_enables_profiles_without_flags() {
    let p = TempProject::new(&[(
        "compose.yaml",
        "services:\n  web:\n    image: nginx\n  tool:\n    image: busybox\n    profiles: [tools]\n",
    )]);
    let mut options = p.options(&["compose.yaml"]);
    options
        .environment
        .insert("COMPOSE_PROFILES".into(), "tools,other".into());
    let project = load(&options).unwrap();
    assert!(project.services.contains_key("tool"));
    options.profiles = vec!["other".into()];
    let project = load(&options).unwrap();
    assert!(!project.services.contains_key("tool"), "--profile wins");
}

#[test]
fn env_files_of_disabled_services_are_not_read() {
    let project = load_one(
        "services:\n  web:\n    image: nginx\n  tool:\n    image: busybox\n    profiles: [tools]\n    env_file: missing.env\n",
    )
    .unwrap();
    assert!(project.disabled_services.contains_key("tool"));
}

#[test]
fn scale_sets_the_replicas() {
    let project = load_one("services:\n  web:\n    image: nginx\n    scale: 3\n").unwrap();
    assert_eq!(project.services["web"].replicas(), 3);
}

#[test]
fn secrets_get_compose_default_targets() {
    let project = load_one(
        "services:\n  web:\n    image: nginx\n    secrets: [a, {source: b, target: custom, mode: 0440}]\n    configs: [c]\nsecrets:\n  a: {environment: HOME}\n  b: {file: b.txt}\nconfigs:\n  c: {content: hi}\n",
    )
    .unwrap();
    let web = &project.services["web"];
    assert_eq!(web.secrets[0].target.as_deref(), Some("/run/secrets/a"));
    assert_eq!(web.secrets[1].target.as_deref(), Some("custom"));
    assert_eq!(web.secrets[1].mode, Some(0o440));
    assert_eq!(web.configs[0].target, None);
    assert_eq!(project.secrets["a"].name, "test_a");
    assert!(project.secrets["b"].file.as_ref().unwrap().is_absolute());
    assert_eq!(project.configs["c"].content.as_deref(), Some("hi"));
    // Secrets and configs are applied: no "not applied" warning.
    assert!(!project.warnings.iter().any(|w| w.contains("`secrets`")));
}

#[test]
fn links_and_shared_namespaces_imply_dependencies() {
    let project = load_one(
        "services:\n  db:\n    image: postgres\n  web:\n    image: nginx\n    links: ['db:database']\n    pid: service:db\n  backup:\n    image: busybox\n    volumes_from: ['db:ro', 'container:x']\n",
    )
    .unwrap();
    let web = &project.services["web"].depends_on["db"];
    assert!(web.restart && web.required);
    let backup = &project.services["backup"].depends_on;
    assert_eq!(backup.len(), 1);
    assert!(!backup["db"].restart);
}

#[test]
fn empty_strings_mean_unset() {
    let project = load_one(
        "services:\n  web:\n    image: nginx\n    platform: ''\n    user: ${NOBODY:-}\n    restart: ''\n",
    )
    .unwrap();
    let web = &project.services["web"];
    assert_eq!(web.platform, None);
    assert_eq!(web.user, None);
    assert_eq!(web.restart, None);
    let err = load_one("services:\n  web:\n    image: ''\n").unwrap_err();
    assert!(
        err.message.contains("needs an `image` or a `build`"),
        "{err}"
    );
}

#[test]
fn compose_file_selects_the_files() {
    let p = TempProject::new(&[
        ("a.yaml", "services:\n  web:\n    image: a\n"),
        ("b.yaml", "services:\n  web:\n    user: b\n"),
        ("compose.yaml", "services:\n  other:\n    image: x\n"),
        (".env", "COMPOSE_FILE=a.yaml:b.yaml\n"),
    ]);
    let project = p.load(&[]).unwrap();
    let web = &project.services["web"];
    assert_eq!(web.image.as_deref(), Some("a"));
    assert_eq!(web.user.as_deref(), Some("b"));
    assert!(!project.services.contains_key("other"));
    let mut options = p.options(&[]);
    options
        .environment
        .insert("COMPOSE_FILE".into(), "compose.yaml".into());
    let project = load(&options).unwrap();
    assert!(
        project.services.contains_key("other"),
        "the environment wins"
    );
}

#[test]
fn ipam_options_are_dropped_with_a_warning_as_compose_drops_them() {
    let project = load_one(
        "services:\n  a:\n    image: x\n    networks: [n]\nnetworks:\n  n:\n    ipam:\n      driver: default\n      options: {foo: bar}\n",
    )
    .unwrap();
    let ipam = project.networks["n"].ipam.as_ref().unwrap();
    assert_eq!(ipam, &serde_json::json!({"driver": "default"}));
    assert!(project
        .warnings
        .iter()
        .any(|w| w.contains("networks.n.ipam.options")));
}

#[test]
fn yaml_prints_ulimits_and_blkio_devices_as_compose_yaml_does() {
    let project = load_one(
        "services:\n  a:\n    image: x\n    ulimits:\n      core: 0\n      nproc: 65535\n    blkio_config:\n      device_read_bps:\n        - {path: /dev/sda, rate: 1mb}\n",
    )
    .unwrap();
    let yaml = crate::compose::canonical::to_yaml_string(&project);
    assert!(
        yaml.contains("core:\n        soft: 0\n        hard: 0"),
        "{yaml}"
    );
    assert!(yaml.contains("nproc: 65535"), "{yaml}");
    assert!(yaml.contains("- path: /dev/sda"), "{yaml}");
    assert!(
        yaml.contains("rate: '1048576'") || yaml.contains("rate: \"1048576\""),
        "{yaml}"
    );
}

/// As compose: with `deploy.resources.limits` (or `reservations`) present,
/// a key it leaves out is zero, so a service-level value differs from it.
#[test]
fn service_limits_must_agree_with_a_present_deploy_block_that_lacks_them() {
    let cases = [
        ("cpus: 0.5", "limits", "memory: 64m", "`cpus`"),
        ("mem_limit: 64m", "limits", "cpus: 0.5", "`mem_limit`"),
        ("pids_limit: 10", "limits", "memory: 64m", "`pids_limit`"),
        (
            "mem_reservation: 32m",
            "reservations",
            "cpus: 0.5",
            "`mem_reservation`",
        ),
    ];
    for (key, block, other, named) in cases {
        let spec = format!(
            "services:\n  web:\n    image: x\n    {key}\n    deploy:\n      resources:\n        {block}:\n          {other}\n"
        );
        let err = load_one(&spec).unwrap_err();
        assert!(
            err.message.contains(named) && err.message.contains("different values"),
            "{key}: {err}"
        );
        let without_block = format!("services:\n  web:\n    image: x\n    {key}\n");
        assert!(load_one(&without_block).is_ok(), "{key} alone is fine");
    }
}
